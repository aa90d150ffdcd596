#include "cli/api_client.h"

#include <array>
#include <boost/asio/buffers_iterator.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <istream>

namespace sluice {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct Endpoint {
  std::string host;
  std::string port;
};

Result<Endpoint> ParseServer(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  } else if (rest.rfind("https://", 0) == 0) {
    return Status::InvalidArgument(
        "--server: https is not supported yet; use http://HOST:PORT "
        "(behind a TLS proxy if needed)");
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t colon = rest.rfind(':');
  if (rest.empty() || rest.find('/') != std::string::npos) {
    return Status::InvalidArgument("--server: expected http://HOST:PORT, got \"" + url + "\"");
  }
  if (colon == std::string::npos) return Endpoint{rest, "80"};
  return Endpoint{rest.substr(0, colon), rest.substr(colon + 1)};
}

template <class Socket>
http::request<http::string_body> MakeRequest(const ClientConfig& config, const std::string& method,
                                             const std::string& target, const std::string& body) {
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  std::string host = "localhost";
  if (!config.server.empty()) {
    Result<Endpoint> ep = ParseServer(config.server);
    if (ep.ok()) host = ep->host + ":" + ep->port;
  }
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "sluice-cli");
  if (!config.token.empty()) req.set(http::field::authorization, "Bearer " + config.token);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.keep_alive(false);
  req.prepare_payload();
  return req;
}

template <class Socket>
Result<HttpResult> Exchange(Socket& socket, const ClientConfig& config, const std::string& method,
                            const std::string& target, const std::string& body) {
  beast::error_code ec;
  auto req = MakeRequest<Socket>(config, method, target, body);
  http::write(socket, req, ec);
  // A server may answer before reading the whole body (413); read its reply
  // even when sending failed.
  const beast::error_code write_error = ec;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ULL << 30);
  http::read(socket, buffer, parser, ec);
  if (ec && write_error) {
    return Status::FailedPrecondition("sending the request failed: " + write_error.message());
  }
  if (ec) return Status::FailedPrecondition("reading the reply failed: " + ec.message());
  HttpResult out;
  out.status = static_cast<int>(parser.get().result_int());
  out.body = parser.get().body();
  out.json = nlohmann::json::parse(out.body, nullptr, /*allow_exceptions=*/false);
  if (out.json.is_discarded()) out.json = nullptr;
  return out;
}

// Sends a GET for a stream and reads up to the end of the reply's header;
// an error reply becomes the Status with the server's message.
template <class Socket>
Status OpenStream(Socket& socket, const ClientConfig& config, const std::string& target,
                  asio::streambuf& buf) {
  beast::error_code ec;
  auto req = MakeRequest<Socket>(config, "GET", target, "");
  req.keep_alive(true);
  http::write(socket, req, ec);
  if (ec) return Status::FailedPrecondition("sending the request failed: " + ec.message());
  asio::read_until(socket, buf, "\r\n\r\n", ec);
  if (ec) return Status::FailedPrecondition("reading the reply failed: " + ec.message());
  std::istream in(&buf);
  std::string status_line;
  std::getline(in, status_line);
  if (status_line.find(" 200 ") == std::string::npos) {
    // An error reply: headers, then a JSON body until the server closes.
    asio::read(socket, buf, ec);
    std::string rest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t start = rest.find("\r\n\r\n");
    std::string body = start == std::string::npos ? rest : rest.substr(start + 4);
    HttpResult r;
    r.json = nlohmann::json::parse(body, nullptr, false);
    r.body = body;
    return Status::FailedPrecondition(r.ErrorMessage());
  }
  std::string line;
  while (std::getline(in, line) && line != "\r") {
  }
  return Status::OK();
}

template <class Socket>
Status ReadEvents(Socket& socket, const ClientConfig& config, const std::string& target,
                  const std::function<bool(const std::string&, const std::string&)>& on_event) {
  asio::streambuf buf;
  if (Status s = OpenStream(socket, config, target, buf); !s.ok()) return s;
  beast::error_code ec;
  std::istream in(&buf);
  std::string line;
  std::string type;
  std::string data;
  while (true) {
    asio::read_until(socket, buf, "\n", ec);
    if (ec) return Status::OK();  // the stream ended
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("event: ", 0) == 0) {
      type = line.substr(7);
    } else if (line.rfind("data: ", 0) == 0) {
      data += line.substr(6);
    } else if (line.empty() && !data.empty()) {
      if (!on_event(type, data)) return Status::OK();
      type.clear();
      data.clear();
    }
  }
}

template <class Socket>
Status ReadRaw(Socket& socket, const ClientConfig& config, const std::string& target,
               const std::function<bool(const std::string&)>& on_chunk) {
  asio::streambuf buf;
  if (Status s = OpenStream(socket, config, target, buf); !s.ok()) return s;
  if (buf.size() > 0) {
    std::string first(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
    buf.consume(buf.size());
    if (!on_chunk(first)) return Status::OK();
  }
  std::array<char, 16384> chunk{};
  while (true) {
    beast::error_code ec;
    size_t n = socket.read_some(asio::buffer(chunk), ec);
    if (n > 0 && !on_chunk(std::string(chunk.data(), n))) return Status::OK();
    if (ec) return Status::OK();  // the stream ended
  }
}

template <class F>
auto WithSocket(const ClientConfig& config, F&& f)
    -> decltype(f(std::declval<asio::ip::tcp::socket&>())) {
  asio::io_context io;
  beast::error_code ec;
  if (!config.server.empty()) {
    Result<Endpoint> ep = ParseServer(config.server);
    if (!ep.ok()) return ep.status();
    asio::ip::tcp::resolver resolver(io);
    auto results = resolver.resolve(ep->host, ep->port, ec);
    asio::ip::tcp::socket socket(io);
    if (!ec) asio::connect(socket, results, ec);
    if (ec) {
      return Status::FailedPrecondition("cannot reach the sluice server at " + config.server +
                                        ": " + ec.message() +
                                        "; is it running (sluice server)? Check --server or "
                                        "SLUICE_SERVER");
    }
    return f(socket);
  }
  asio::local::stream_protocol::socket socket(io);
  socket.connect(asio::local::stream_protocol::endpoint(config.socket), ec);
  if (ec) {
    return Status::FailedPrecondition(
        "cannot reach the sluice server on " + config.socket + ": " + ec.message() +
        "; start one with `sluice server`, or point at one with --server URL (or SLUICE_SERVER) "
        "or SLUICE_SOCKET");
  }
  return f(socket);
}

}  // namespace

std::string HttpResult::ErrorMessage() const {
  if (json.is_object() && json.contains("error") && json["error"].is_object() &&
      json["error"].contains("message") && json["error"]["message"].is_string()) {
    return json["error"]["message"].get<std::string>();
  }
  return body.empty() ? "HTTP status " + std::to_string(status) : body;
}

Result<HttpResult> ApiClient::Call(const std::string& method, const std::string& target,
                                   const std::string& body) const {
  return WithSocket(config_, [&](auto& socket) -> Result<HttpResult> {
    return Exchange(socket, config_, method, target, body);
  });
}

Status ApiClient::Stream(
    const std::string& target,
    const std::function<bool(const std::string&, const std::string&)>& on_event) const {
  Result<int> r = WithSocket(config_, [&](auto& socket) -> Result<int> {
    Status s = ReadEvents(socket, config_, target, on_event);
    if (!s.ok()) return s;
    return 0;
  });
  return r.ok() ? Status::OK() : r.status();
}

Status ApiClient::StreamRaw(const std::string& target,
                            const std::function<bool(const std::string&)>& on_chunk) const {
  Result<int> r = WithSocket(config_, [&](auto& socket) -> Result<int> {
    Status s = ReadRaw(socket, config_, target, on_chunk);
    if (!s.ok()) return s;
    return 0;
  });
  return r.ok() ? Status::OK() : r.status();
}

std::string ApiClient::Where() const {
  return config_.server.empty() ? "unix:" + config_.socket : config_.server;
}

std::string UrlEncode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace sluice
