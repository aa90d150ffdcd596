#include "k8s/webhook/webhook_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

namespace sluice::k8s {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// A pod with its old copy in an UPDATE review stays far below this; the API
// server itself refuses objects above 1.5 MiB.
constexpr uint64_t kMaxBody = uint64_t{8} << 20;
// Reading a request or writing a reply may take at most this long; the API
// server gives up on a webhook after at most 30 seconds anyway.
constexpr auto kIoTimeout = std::chrono::seconds(30);

http::response<http::string_body> Reply(http::status status, unsigned version, bool keep_alive,
                                        std::string body, std::string_view type) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::server, "sluice-webhook");
  res.set(http::field::content_type, std::string(type));
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

http::response<http::string_body> Route(const http::request<http::string_body>& req,
                                        const ConfigMapNamer& namer) {
  const auto target_view = req.target();
  std::string_view target(target_view.data(), target_view.size());
  target = target.substr(0, target.find('?'));
  const unsigned v = req.version();
  const bool keep = req.keep_alive();
  if (target == "/healthz") {
    if (req.method() != http::verb::get) {
      return Reply(http::status::method_not_allowed, v, keep, "use GET /healthz\n", "text/plain");
    }
    return Reply(http::status::ok, v, keep, "ok\n", "text/plain");
  }
  if (target != "/mutate" && target != "/validate") {
    return Reply(http::status::not_found, v, keep,
                 "no such path; the webhook serves POST /mutate, POST /validate and GET /healthz\n",
                 "text/plain");
  }
  if (req.method() != http::verb::post) {
    return Reply(http::status::method_not_allowed, v, keep,
                 "POST an AdmissionReview to " + std::string(target) + "\n", "text/plain");
  }
  Result<nlohmann::json> answer = AnswerAdmissionReview(req.body(), target == "/mutate", namer);
  if (!answer.ok()) {
    return Reply(http::status::bad_request, v, keep, answer.status().message() + "\n",
                 "text/plain");
  }
  return Reply(http::status::ok, v, keep, answer->dump(), "application/json");
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ssl::context& ctx, const ConfigMapNamer* namer)
      : stream_(std::move(socket), ctx), namer_(namer) {}

  void Start() {
    beast::get_lowest_layer(stream_).expires_after(kIoTimeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) {
                              if (!ec) self->Read();
                            });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxBody);
    beast::get_lowest_layer(stream_).expires_after(kIoTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return Shutdown();
    if (ec == http::error::body_limit) {
      return Write(Reply(http::status::payload_too_large, 11, false,
                         "the request body is larger than 8 MiB\n", "text/plain"));
    }
    if (ec == http::error::bad_target || ec == http::error::bad_method ||
        ec == http::error::bad_version || ec == http::error::bad_field ||
        ec == http::error::bad_value || ec == http::error::bad_chunk ||
        ec == http::error::bad_content_length) {
      return Write(Reply(http::status::bad_request, 11, false,
                         "malformed HTTP request: " + ec.message() + "\n", "text/plain"));
    }
    if (ec) return;  // timeout, reset, TLS failure: nothing to answer
    Write(Route(parser_->get(), *namer_));
  }

  void Write(http::response<http::string_body> res) {
    res_ = std::move(res);
    beast::get_lowest_layer(stream_).expires_after(kIoTimeout);
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      if (self->res_.keep_alive()) return self->Read();
      self->Shutdown();
    });
  }

  void Shutdown() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  const ConfigMapNamer* namer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
};

}  // namespace

struct WebhookServer::State {
  // Sessions refer to the options and the TLS context, so both outlive
  // the io_context that owns the sessions' handlers.
  WebhookServerOptions options;
  ssl::context tls{ssl::context::tls_server};
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;
  int port = 0;

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(socket), tls, &options.namer)->Start();
      Accept();
    });
  }
};

WebhookServer::WebhookServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

WebhookServer::~WebhookServer() { Stop(); }

int WebhookServer::port() const { return state_->port; }

Result<std::unique_ptr<WebhookServer>> WebhookServer::Start(WebhookServerOptions options) {
  auto state = std::make_unique<State>();
  state->options = std::move(options);
  const WebhookServerOptions& o = state->options;
  if (o.threads < 1) return Status::InvalidArgument("the webhook needs at least one thread");
  beast::error_code ec;
  state->tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1);
  state->tls.use_certificate_chain_file(o.cert_file, ec);
  if (ec) {
    return Status::InvalidArgument("--cert " + o.cert_file +
                                   ": cannot load a PEM certificate: " + ec.message());
  }
  state->tls.use_private_key_file(o.key_file, ssl::context::pem, ec);
  if (ec) {
    return Status::InvalidArgument(
        "--key " + o.key_file +
        ": cannot load a PEM private key that matches --cert: " + ec.message());
  }
  const asio::ip::address address = asio::ip::make_address(o.address, ec);
  if (ec) return Status::InvalidArgument("--address: \"" + o.address + "\" is not an IP address");
  if (o.port < 0 || o.port > 65535) {
    return Status::InvalidArgument("--port: expected 0 to 65535, got " + std::to_string(o.port));
  }
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(o.port));
  state->acceptor.open(endpoint.protocol(), ec);
  if (!ec) state->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(endpoint, ec);
  if (!ec) state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::FailedPrecondition("cannot listen on " + o.address + ":" +
                                      std::to_string(o.port) + ": " + ec.message());
  }
  state->port = state->acceptor.local_endpoint().port();
  state->Accept();
  for (int i = 0; i < o.threads; ++i) {
    state->threads.emplace_back([s = state.get()] { s->io.run(); });
  }
  return std::unique_ptr<WebhookServer>(new WebhookServer(std::move(state)));
}

void WebhookServer::Stop() {
  if (state_->threads.empty()) return;
  asio::post(state_->acceptor.get_executor(), [s = state_.get()] {
    beast::error_code ignored;
    s->acceptor.close(ignored);
  });
  state_->io.stop();
  for (std::thread& t : state_->threads) t.join();
  state_->threads.clear();
}

}  // namespace sluice::k8s
