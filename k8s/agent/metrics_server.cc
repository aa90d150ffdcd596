#include "k8s/agent/metrics_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>

namespace sluice::k8s {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, const MetricsServer::Render* render)
      : stream_(std::move(socket)), render_(render) {}

  void Start() {
    parser_.body_limit(uint64_t{64} << 10);
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (!ec) self->Answer();
                     });
  }

 private:
  void Answer() {
    const auto& req = parser_.get();
    const auto target_view = req.target();
    std::string_view target(target_view.data(), target_view.size());
    target = target.substr(0, target.find('?'));
    res_.version(req.version());
    res_.keep_alive(false);
    res_.set(http::field::content_type, "text/plain; charset=utf-8");
    if (req.method() != http::verb::get) {
      res_.result(http::status::method_not_allowed);
      res_.body() = "use GET /metrics or GET /healthz\n";
    } else if (target == "/healthz") {
      res_.result(http::status::ok);
      res_.body() = "ok\n";
    } else if (target == "/metrics") {
      Result<std::string> text = (*render_)();
      res_.result(text.ok() ? http::status::ok : http::status::service_unavailable);
      res_.body() = text.ok() ? *text : "cannot read the GPUs: " + text.status().message() + "\n";
      if (text.ok()) res_.set(http::field::content_type, "text/plain; version=0.0.4");
    } else {
      res_.result(http::status::not_found);
      res_.body() = "the node agent serves GET /metrics and GET /healthz\n";
    }
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  const MetricsServer::Render* render_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> res_;
};

}  // namespace

struct MetricsServer::State {
  Render render;  // outlives the io_context, whose handlers refer to it
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;
  int port = 0;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Connection>(std::move(socket), &render)->Start();
      Accept();
    });
  }
};

MetricsServer::MetricsServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

MetricsServer::~MetricsServer() { Stop(); }

int MetricsServer::port() const { return state_->port; }

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address, int port,
                                                            Render render) {
  auto state = std::make_unique<State>();
  state->render = std::move(render);
  beast::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(address, ec);
  if (ec) return Status::InvalidArgument("--metrics-address: \"" + address + "\" is not an IP");
  if (port < 0 || port > 65535) {
    return Status::InvalidArgument("--metrics-port: expected 0 to 65535, got " +
                                   std::to_string(port));
  }
  const tcp::endpoint endpoint(ip, static_cast<uint16_t>(port));
  state->acceptor.open(endpoint.protocol(), ec);
  if (!ec) state->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(endpoint, ec);
  if (!ec) state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::FailedPrecondition("cannot listen on " + address + ":" + std::to_string(port) +
                                      ": " + ec.message());
  }
  state->port = state->acceptor.local_endpoint().port();
  state->Accept();
  state->thread = std::thread([s = state.get()] { s->io.run(); });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(state)));
}

void MetricsServer::Stop() {
  if (!state_->thread.joinable()) return;
  state_->io.stop();
  state_->thread.join();
}

}  // namespace sluice::k8s
