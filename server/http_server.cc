#include "server/http_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <charconv>
#include <chrono>
#include <deque>
#include <fstream>

#include "server/api_router.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;

// The most SSE messages queued for one slow watcher before it is dropped.
constexpr size_t kMaxQueuedEvents = 10'000;

// The workspace proxy: the largest upload and answer it relays, the cookie
// of a signed-in browser and the query parameter of a one-use ticket.
constexpr size_t kMaxProxyBody = size_t{256} << 20;
constexpr uint64_t kMaxProxyResponse = uint64_t{512} << 20;
constexpr std::string_view kSessionCookie = "sluice-ws";
constexpr std::string_view kTicketParam = "sluice-ticket";

// "/ws/PROJECT/NAME/REST?QUERY": the names and what follows them ("" when
// the target stops at the name, else starting with '/' or '?').
struct ProxyPath {
  std::string project;
  std::string name;
  std::string rest;
};

bool ParseProxyPath(std::string_view target, ProxyPath* out) {
  if (!target.starts_with("/ws/")) return false;
  target.remove_prefix(4);
  size_t slash = target.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  out->project = std::string(target.substr(0, slash));
  target.remove_prefix(slash + 1);
  size_t end = target.find_first_of("/?");
  if (end == 0) return false;
  out->name = std::string(target.substr(0, end));
  out->rest = end == std::string_view::npos ? "" : std::string(target.substr(end));
  return true;
}

// The value of query parameter `key` in "PATH?a=b&key=v", or "".
std::string QueryParam(const std::string& target, std::string_view key) {
  size_t q = target.find('?');
  if (q == std::string::npos) return "";
  std::string_view query = std::string_view{target}.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.size() > key.size() && pair.starts_with(key) && pair[key.size()] == '=') {
      return std::string(pair.substr(key.size() + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "";
}

std::string WithoutQueryParam(const std::string& target, std::string_view key) {
  size_t q = target.find('?');
  if (q == std::string::npos) return target;
  std::string out = target.substr(0, q);
  std::string_view query = std::string_view{target}.substr(q + 1);
  std::string kept;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (!(pair.starts_with(key) && (pair.size() == key.size() || pair[key.size()] == '='))) {
      kept += (kept.empty() ? "" : "&") + std::string(pair);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return kept.empty() ? out : out + "?" + kept;
}

// Takes sluice's session cookie out of the request's cookies: returns its
// value and leaves the others (the workspace's own) in `others`.
std::string TakeCookie(const http::request<http::string_body>& req, std::string* others) {
  std::string value;
  auto [first, last] = req.equal_range(http::field::cookie);
  for (auto field = first; field != last; ++field) {
    std::string_view cookies(field->value().data(), field->value().size());
    while (!cookies.empty()) {
      size_t semi = cookies.find(';');
      std::string_view pair = cookies.substr(0, semi);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      if (pair.starts_with(kSessionCookie) && pair.size() > kSessionCookie.size() &&
          pair[kSessionCookie.size()] == '=') {
        value = std::string(pair.substr(kSessionCookie.size() + 1));
      } else if (!pair.empty()) {
        *others += (others->empty() ? "" : "; ") + std::string(pair);
      }
      if (semi == std::string_view::npos) break;
      cookies.remove_prefix(semi + 1);
    }
  }
  return value;
}

template <class Socket>
class Session : public std::enable_shared_from_this<Session<Socket>> {
 public:
  Session(Socket socket, HttpServer::Shared* shared, std::optional<Caller> peer)
      : socket_(std::move(socket)), shared_(shared), peer_(std::move(peer)) {}

  void Start() { Read(); }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxRequestBody);
    parser_->header_limit(64 * 1024);
    http::async_read_header(
        socket_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  // The header decides how large a body may be: a workspace takes uploads
  // far larger than any API request.
  void OnHeader(beast::error_code ec) {
    if (ec) return OnRead(ec);
    const auto target = parser_->get().target();
    if (std::string_view(target.data(), target.size()).starts_with("/ws/")) {
      parser_->body_limit(kMaxProxyBody);
    }
    if (parser_->is_done()) return OnRead(ec);
    http::async_read(
        socket_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code e, size_t) { self->OnRead(e); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      drain_ = true;
      return Write(ApiResponse::Error(413, "the request body is larger than " +
                                               std::to_string(kMaxRequestBody / 1024) +
                                               " KiB; send less"));
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
      return Close();
    }
    if (ec) {
      keep_alive_ = false;
      return Write(ApiResponse::Error(400, "malformed HTTP request: " + ec.message()));
    }
    http::request<http::string_body> req = parser_->release();
    started_ = std::chrono::steady_clock::now();
    keep_alive_ = req.keep_alive();
    ApiRequest api;
    const auto method = req.method_string();
    api.method.assign(method.data(), method.size());
    method_ = api.method;
    const auto target = req.target();
    if (ProxyPath path; ParseProxyPath(std::string_view(target.data(), target.size()), &path)) {
      method_.clear();  // not an API call: kept out of the API's latency metric
      return Proxy(std::move(req), path);
    }
    if (!ParseTarget(std::string(target.data(), target.size()), &api)) {
      return Write(ApiResponse::Error(400, "the request path is not valid percent-encoding"));
    }
    api.body = std::move(req.body());
    if (api.segments.size() == 1 && api.segments[0] == "healthz") {
      return Write(ApiResponse{200, Json{{"ok", true}}, "", "application/json", "", {}});
    }
    if (api.method == "GET" && *shared_->web && WebFiles::IsWebPath(api.segments)) {
      return Write((*shared_->web)->Serve(api.segments));
    }
    std::optional<Caller> caller = peer_;
    const auto auth_header = req[http::field::authorization];
    const std::string_view auth(auth_header.data(), auth_header.size());
    if (!auth.empty()) {
      constexpr std::string_view kBearer = "Bearer ";
      if (auth.substr(0, kBearer.size()) != kBearer) {
        return Write(ApiResponse::Error(401, "the Authorization header must be \"Bearer TOKEN\""));
      }
      caller = shared_->cp->Authenticate(std::string(auth.substr(kBearer.size())));
      if (!caller) {
        return Write(ApiResponse::Error(
            401,
            "the token is not valid (mistyped or revoked); create one with `sluice token "
            "create`, or use the admin token in the server's data directory"));
      }
    }
    if (!caller) {
      return Write(ApiResponse::Error(
          401,
          "no credentials: pass a bearer token (sluice --token T, or SLUICE_TOKEN); the "
          "first admin token is in the server's DATA_DIR/admin-token"));
    }
    if (caller->trial >= 0 &&
        !(api.segments.size() == 3 && api.segments[0] == "api" && api.segments[2] == "report")) {
      return Write(ApiResponse::Error(
          403, "a sweep trial's report token can only report metrics (POST /api/v1/report)"));
    }
    std::string watch_project;
    if (IsWatch(api, &watch_project)) return StartWatch(*caller, watch_project);
    std::string log_project;
    std::string log_name;
    if (IsLogs(api, &log_project, &log_name)) return StartLogs(*caller, api, log_project, log_name);
    HandleApi(*shared_->cp, api, *caller,
              [self = this->shared_from_this()](ApiResponse r) { self->Write(std::move(r)); });
  }

  void Write(ApiResponse r) {
    if (!method_.empty()) {
      shared_->metrics->ObserveApi(method_,
                                   std::chrono::duration_cast<std::chrono::duration<double>>(
                                       std::chrono::steady_clock::now() - started_)
                                       .count());
    }
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "sluice");
    res->set(http::field::content_type, r.content_type);
    if (!r.cache_control.empty()) res->set(http::field::cache_control, r.cache_control);
    for (const auto& [name, value] : r.headers) res->set(name, value);
    res->keep_alive(keep_alive_);
    res->body() = r.text.empty() && r.content_type == "application/json" ? DumpJson(r.body) + "\n"
                                                                         : std::move(r.text);
    res->prepare_payload();
    http::async_write(socket_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        if (!ec && self->drain_) return self->Drain();
                        if (ec || !self->keep_alive_) return self->Close();
                        self->Read();
                      });
  }

  // After refusing an oversized body: stop sending, and read what the
  // client is still sending (up to kMaxDrain) so that closing does not reset
  // the connection before the client has read the refusal.
  void Drain() {
    beast::error_code ignored;
    socket_.shutdown(Socket::shutdown_send, ignored);
    constexpr size_t kMaxDrain = 64 << 20;
    socket_.async_read_some(asio::buffer(discard_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kMaxDrain) return self->Close();
                              self->Drain();
                            });
  }

  void StartWatch(const Caller& caller, const std::string& project) {
    std::weak_ptr<Session> weak = this->shared_from_this();
    ApiResponse r =
        shared_->cp->Watch(caller, project, [weak](const std::string& type, const Json& workload) {
          auto self = weak.lock();
          if (!self || self->closed_) return false;
          if (self->out_.size() >= kMaxQueuedEvents) {
            self->Close();
            return false;
          }
          self->SendHeaderOnce();
          self->Queue("event: " + type + "\ndata: " + DumpJson(workload) + "\n\n");
          return true;
        });
    if (r.status != 200) {
      keep_alive_ = false;
      return Write(std::move(r));
    }
    SendHeaderOnce();
    // The client never sends anything more; a read that ends means it left.
    socket_.async_read_some(
        asio::buffer(probe_),
        [self = this->shared_from_this()](beast::error_code, size_t) { self->Close(); });
  }

  void SendHeaderOnce(const std::string& content_type = "text/event-stream") {
    if (header_sent_) return;
    header_sent_ = true;
    Queue("HTTP/1.1 200 OK\r\nServer: sluice\r\nContent-Type: " + content_type +
          "\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n");
  }

  // A pod's log: the last `limitBytes` (default 1 MiB), and with
  // ?follow=true whatever is appended, until the workload ends.
  void StartLogs(const Caller& caller, const ApiRequest& api, const std::string& project,
                 const std::string& name) {
    keep_alive_ = false;
    int32_t pod = 0;
    int64_t limit = 1 << 20;
    auto number = [&](const char* key, auto* out, int64_t max) {
      auto it = api.query.find(key);
      if (it == api.query.end()) return true;
      const std::string& v = it->second;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
      return ec == std::errc() && ptr == v.data() + v.size() && *out >= 0 && *out <= max;
    };
    if (!number("pod", &pod, 100'000)) {
      return Write(ApiResponse::Error(400, "pod: expected a pod index (0, 1, ...)"));
    }
    if (!number("limitBytes", &limit, int64_t{1} << 30)) {
      return Write(ApiResponse::Error(400, "limitBytes: expected a whole number of bytes"));
    }
    std::string path;
    int64_t id = 0;
    ApiResponse r = shared_->cp->LogFile(caller, project, name, pod, &path, &id);
    if (r.status != 200) return Write(std::move(r));
    log_path_ = path;
    log_id_ = id;
    std::string text = ReadLog(limit);
    if (!QueryFlag(api, "follow")) {
      ApiResponse t;
      t.text = std::move(text);
      t.content_type = "text/plain; charset=utf-8";
      return Write(std::move(t));
    }
    SendHeaderOnce("text/plain; charset=utf-8");
    if (!text.empty()) Queue(std::move(text));
    socket_.async_read_some(
        asio::buffer(probe_),
        [self = this->shared_from_this()](beast::error_code, size_t) { self->Close(); });
    FollowLog();
  }

  // With `tail` >= 0, the log's last `tail` bytes; with -1, what was
  // appended since the last read (a file shorter than that was rotated:
  // start over).
  std::string ReadLog(int64_t tail) {
    std::ifstream in(log_path_, std::ios::binary);
    if (!in) return "";
    in.seekg(0, std::ios::end);
    const int64_t size = in.tellg();
    int64_t start = tail >= 0 ? std::max<int64_t>(0, size - tail) : log_offset_;
    if (start > size) start = 0;
    in.seekg(start);
    std::string text(static_cast<size_t>(size - start), '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    log_offset_ = size;
    return text;
  }

  void FollowLog() {
    auto timer = std::make_shared<asio::steady_timer>(socket_.get_executor(),
                                                      std::chrono::milliseconds(200));
    timer->async_wait([self = this->shared_from_this(), timer](beast::error_code ec) {
      if (ec || self->closed_) return;
      std::string more = self->ReadLog(-1);
      if (!more.empty()) {
        self->Queue(std::move(more));
      } else if (!self->shared_->cp->IsActive(self->log_id_)) {
        self->close_when_drained_ = true;
        if (self->out_.empty()) self->Close();
        return;
      }
      self->FollowLog();
    });
  }

  void Queue(std::string chunk) {
    out_.push_back(std::move(chunk));
    if (out_.size() == 1) WriteNext();
  }

  void WriteNext() {
    asio::async_write(socket_, asio::buffer(out_.front()),
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->out_.pop_front();
                        if (!self->out_.empty()) {
                          self->WriteNext();
                        } else if (self->close_when_drained_) {
                          self->Close();
                        }
                      });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
    CloseUpstream();
  }

  // ---- the workspace proxy: /ws/PROJECT/NAME/... ----

  // Who may pass: a bearer token, a one-use ticket from `workspace open`
  // (exchanged here for a session cookie), that cookie, or the socket's peer.
  void Proxy(http::request<http::string_body> req, const ProxyPath& path) {
    std::optional<Caller> caller;
    const auto auth_header = req[http::field::authorization];
    const std::string_view auth(auth_header.data(), auth_header.size());
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.starts_with(kBearer)) {
      caller = shared_->cp->Authenticate(std::string(auth.substr(kBearer.size())));
      if (!caller) return Write(ApiResponse::Error(401, "the bearer token is not valid"));
    }
    const std::string ticket = QueryParam(path.rest, kTicketParam);
    if (!caller && !ticket.empty()) {
      std::optional<std::string> session = shared_->cp->RedeemWorkspaceTicket(ticket);
      if (!session) {
        return Write(ApiResponse::Error(
            401, "this workspace link has expired or was used already; `sluice workspace open " +
                     path.name + " -p " + path.project + "` prints a new one"));
      }
      ApiResponse r;
      r.status = 302;
      r.content_type = "text/plain; charset=utf-8";
      r.text = "signed in; continuing to the workspace\n";
      std::string rest = WithoutQueryParam(path.rest, kTicketParam);
      if (rest.empty() || rest[0] == '?') rest = "/" + rest;
      r.headers = {{"Location", "/ws/" + path.project + "/" + path.name + rest},
                   {"Set-Cookie", std::string(kSessionCookie) + "=" + *session +
                                      "; Path=/ws/; HttpOnly; SameSite=Lax; Max-Age=43200"}};
      return Write(std::move(r));
    }
    std::string other_cookies;
    const std::string session = TakeCookie(req, &other_cookies);
    if (!caller && !session.empty()) caller = shared_->cp->WorkspaceSession(session);
    if (!caller) caller = peer_;
    if (!caller) {
      return Write(
          ApiResponse::Error(401, "sign in first: open the workspace with `sluice workspace open " +
                                      path.name + " -p " + path.project +
                                      "` or from the web UI (API clients pass a bearer token)"));
    }
    if (path.rest.empty() || path.rest[0] == '?') {
      ApiResponse r;
      r.status = 301;
      r.content_type = "text/plain; charset=utf-8";
      r.headers = {{"Location", "/ws/" + path.project + "/" + path.name + "/" + path.rest}};
      return Write(std::move(r));
    }
    WorkspaceUpstream up;
    ApiResponse refusal = shared_->cp->WorkspaceUpstreamFor(*caller, path.project, path.name, &up);
    if (refusal.status != 200) return Write(std::move(refusal));
    // The workspace sees its own token (JupyterLab) and none of sluice's
    // credentials.
    req.erase(http::field::authorization);
    if (up.jupyter) req.set(http::field::authorization, "token " + up.token);
    req.erase(http::field::cookie);
    if (!other_cookies.empty()) req.set(http::field::cookie, other_cookies);
    req.erase(http::field::expect);  // the whole body is here already
    if (up.strip_prefix) req.target(path.rest);
    hide_ = up.jupyter ? up.token : "";
    const bool upgrade = beast::websocket::is_upgrade(req);
    if (!upgrade) {
      req.keep_alive(false);
      req.prepare_payload();
    }
    proxy_req_ = std::move(req);
    upstream_.emplace(socket_.get_executor());
    upstream_->async_connect(
        tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<uint16_t>(up.port)),
        [self = this->shared_from_this(), upgrade](beast::error_code ec) {
          if (ec) return self->UpstreamFailed("is not answering (" + ec.message() + ")");
          http::async_write(*self->upstream_, *self->proxy_req_,
                            [self, upgrade](beast::error_code e, size_t) {
                              if (e) return self->UpstreamFailed("refused the request");
                              if (upgrade) return self->StartTunnel();
                              self->ReadUpstream();
                            });
        });
  }

  void UpstreamFailed(const std::string& what) {
    CloseUpstream();
    Write(ApiResponse::Error(
        502, "the workspace " + what + "; if it has just started, try again in a few seconds"));
  }

  void ReadUpstream() {
    upstream_parser_.emplace();
    upstream_parser_->body_limit(kMaxProxyResponse);
    if (proxy_req_->method() == http::verb::head) upstream_parser_->skip(true);
    upstream_buffer_.clear();
    http::async_read(*upstream_, upstream_buffer_, *upstream_parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->UpstreamFailed("broke off its answer");
                       self->RelayResponse();
                     });
  }

  void RelayResponse() {
    auto res = std::make_shared<http::response<http::string_body>>(upstream_parser_->release());
    CloseUpstream();
    res->keep_alive(keep_alive_);
    // JupyterLab writes its token into its pages; nobody but the proxy needs it.
    const auto type = (*res)[http::field::content_type];
    if (!hide_.empty() && std::string_view(type.data(), type.size()).starts_with("text/html")) {
      std::string& body = res->body();
      for (size_t at = body.find(hide_); at != std::string::npos; at = body.find(hide_, at)) {
        body.erase(at, hide_.size());
      }
    }
    const unsigned code = res->result_int();
    if (proxy_req_->method() != http::verb::head && code >= 200 && code != 204 && code != 304) {
      res->prepare_payload();
    }
    http::async_write(socket_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec || !self->keep_alive_) return self->Close();
                        self->Read();
                      });
  }

  // After a WebSocket upgrade request: bytes both ways, as they come, until
  // either side closes (the 101 answer and every frame pass untouched).
  void StartTunnel() {
    keep_alive_ = false;
    if (buffer_.size() > 0) {
      asio::async_write(*upstream_, buffer_.data(),
                        [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                          self->buffer_.consume(n);
                          if (ec) return self->Close();
                          self->PumpUp();
                        });
    } else {
      PumpUp();
    }
    PumpDown();
  }

  void PumpUp() {
    socket_.async_read_some(asio::buffer(up_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec || !self->upstream_) return self->Close();
                              asio::async_write(*self->upstream_, asio::buffer(self->up_.data(), n),
                                                [self](beast::error_code e, size_t) {
                                                  if (e) return self->Close();
                                                  self->PumpUp();
                                                });
                            });
  }

  void PumpDown() {
    upstream_->async_read_some(
        asio::buffer(down_), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
          if (ec) return self->Close();
          asio::async_write(self->socket_, asio::buffer(self->down_.data(), n),
                            [self](beast::error_code e, size_t) {
                              if (e) return self->Close();
                              self->PumpDown();
                            });
        });
  }

  void CloseUpstream() {
    if (!upstream_) return;
    beast::error_code ignored;
    upstream_->shutdown(tcp::socket::shutdown_both, ignored);
    upstream_->close(ignored);
  }

  Socket socket_;
  HttpServer::Shared* shared_;
  std::optional<Caller> peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  bool closed_ = false;
  bool header_sent_ = false;
  std::string method_;
  std::chrono::steady_clock::time_point started_;
  std::deque<std::string> out_;
  std::array<char, 64> probe_{};
  bool drain_ = false;
  bool close_when_drained_ = false;
  std::string log_path_;
  int64_t log_id_ = 0;
  int64_t log_offset_ = 0;
  size_t drained_ = 0;
  std::array<char, 16384> discard_{};
  // The workspace proxy's side of one request or tunnel.
  std::optional<tcp::socket> upstream_;
  std::optional<http::request<http::string_body>> proxy_req_;
  std::optional<http::response_parser<http::string_body>> upstream_parser_;
  beast::flat_buffer upstream_buffer_;
  std::string hide_;  // the workspace's token, kept out of the pages it serves
  std::array<char, 16384> up_{};
  std::array<char, 16384> down_{};
};

}  // namespace

HttpServer::HttpServer(asio::io_context& io, ControlPlane* cp, Metrics* metrics, int64_t server_uid)
    : io_(io), shared_{cp, metrics, server_uid, &web_} {}

Result<int> HttpServer::ListenTcp(const std::string& host_port) {
  size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("--listen: expected HOST:PORT, e.g. 127.0.0.1:8080, got \"" +
                                   host_port + "\"");
  }
  std::string host = host_port.substr(0, colon);
  int port = 0;
  std::string port_text = host_port.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return Status::InvalidArgument("--listen: the port must be a number from 0 to 65535, got \"" +
                                   port_text + "\"");
  }
  beast::error_code error;
  auto address = asio::ip::make_address(host, error);
  if (error) {
    return Status::InvalidArgument("--listen: \"" + host + "\" is not an IP address");
  }
  tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  tcp_.emplace(io_);
  tcp_->open(endpoint.protocol(), error);
  if (!error) tcp_->set_option(asio::socket_base::reuse_address(true), error);
  if (!error) tcp_->bind(endpoint, error);
  if (!error) tcp_->listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return Status::FailedPrecondition("cannot listen on " + host_port + ": " + error.message());
  }
  AcceptTcp();
  return static_cast<int>(tcp_->local_endpoint().port());
}

Status HttpServer::ListenUnix(const std::string& path) {
  beast::error_code error;
  // A socket file left by a server that died is stale when nobody answers.
  {
    unix_socket::socket probe(io_);
    probe.connect(unix_socket::endpoint(path), error);
    if (!error) {
      return Status::FailedPrecondition("another server is already listening on " + path);
    }
    ::unlink(path.c_str());
  }
  unix_.emplace(io_);
  unix_socket::endpoint endpoint(path);
  unix_->open(endpoint.protocol(), error);
  if (!error) unix_->bind(endpoint, error);
  if (!error) unix_->listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return Status::FailedPrecondition("cannot listen on the socket " + path + ": " +
                                      error.message());
  }
  ::chmod(path.c_str(), 0666);
  AcceptUnix();
  return Status::OK();
}

void HttpServer::AcceptTcp() {
  tcp_->async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session<tcp::socket>>(std::move(socket), &shared_, std::nullopt)->Start();
    }
    AcceptTcp();
  });
}

void HttpServer::AcceptUnix() {
  unix_->async_accept([this](beast::error_code ec, unix_socket::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      ucred cred{};
      socklen_t len = sizeof cred;
      std::optional<Caller> peer;
      if (getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        const int64_t uid = cred.uid;
        peer = Caller{UserNameOf(uid), uid, uid == 0 || uid == shared_.server_uid};
      }
      std::make_shared<Session<unix_socket::socket>>(std::move(socket), &shared_, peer)->Start();
    }
    AcceptUnix();
  });
}

void HttpServer::Close() {
  beast::error_code ignored;
  if (tcp_) tcp_->close(ignored);
  if (unix_) unix_->close(ignored);
}

}  // namespace sluice
