#include "server/jupyter_probe.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "common/quantity.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// GET `target` from 127.0.0.1:port; the JSON body of a 200, else null.
nlohmann::json Get(int32_t port, const std::string& target, const std::string& token,
                   std::chrono::milliseconds timeout) {
  asio::io_context io;
  tcp::socket socket(io);
  beast::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<uint16_t>(port)), ec);
  if (ec) return nullptr;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  req.set(http::field::authorization, "token " + token);
  req.keep_alive(false);
  http::write(socket, req, ec);
  if (ec) return nullptr;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(4 << 20);
  http::read(socket, buffer, parser, ec);
  if (ec || parser.get().result_int() != 200) return nullptr;
  return nlohmann::json::parse(parser.get().body(), nullptr, false);
}

}  // namespace

std::optional<JupyterActivity> ProbeJupyter(const JupyterProbe& probe,
                                            std::chrono::milliseconds timeout) {
  const nlohmann::json status =
      Get(probe.port, probe.base_url + "api/status", probe.token, timeout);
  if (!status.is_object()) return std::nullopt;
  // Listing kernels would count as activity unless asked not to.
  const nlohmann::json kernels =
      Get(probe.port, probe.base_url + "api/kernels?no_track_activity=1", probe.token, timeout);
  if (!kernels.is_array()) return std::nullopt;
  JupyterActivity a;
  if (status.contains("last_activity") && status["last_activity"].is_string()) {
    Result<Time> t = ParseTime(status["last_activity"].get<std::string>());
    if (t.ok()) a.last_activity = *t;
  }
  for (const nlohmann::json& k : kernels) {
    if (k.is_object() && k.value("execution_state", "") == "busy") ++a.busy_kernels;
  }
  return a;
}

int32_t FreeLoopbackPort() {
  asio::io_context io;
  tcp::acceptor acceptor(io);
  beast::error_code ec;
  acceptor.open(tcp::v4(), ec);
  if (!ec) acceptor.bind(tcp::endpoint(asio::ip::address_v4::loopback(), 0), ec);
  if (ec) return 0;
  return acceptor.local_endpoint().port();
}

}  // namespace sluice
