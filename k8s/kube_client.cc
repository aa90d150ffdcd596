#include "k8s/kube_client.h"

#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

struct KubeClient::TlsContext {
  ssl::context ctx{ssl::context::tls_client};
};

struct KubeClient::Connection {
  asio::io_context io;
  ssl::stream<asio::ip::tcp::socket> stream;
  beast::flat_buffer buffer;
  explicit Connection(ssl::context& ctx) : stream(io, ctx) {}
};

namespace {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::string> Base64Decode(const std::string& text, const std::string& what) {
  std::string clean;
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ') clean += c;
  }
  if (clean.size() % 4 != 0) return Status::InvalidArgument(what + ": not base64");
  std::string out(clean.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()),
                                static_cast<int>(clean.size()));
  if (n < 0) return Status::InvalidArgument(what + ": not base64");
  size_t pad = 0;
  while (pad < 2 && pad < clean.size() && clean[clean.size() - 1 - pad] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// A file or inline base64 field of a kubeconfig; relative files are
// relative to the kubeconfig's folder, as kubectl reads them.
Result<std::string> FileOrData(const YAML::Node& node, const std::string& file_key,
                               const std::string& data_key, const std::string& dir) {
  if (node[data_key]) return Base64Decode(node[data_key].as<std::string>(), data_key);
  if (node[file_key]) {
    std::string path = node[file_key].as<std::string>();
    if (!path.empty() && path[0] != '/') path = dir + "/" + path;
    return ReadFile(path);
  }
  return std::string();
}

YAML::Node FindNamed(const YAML::Node& list, const std::string& name, const std::string& inner) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const YAML::Node& item : list) {
    if (item["name"] && item["name"].as<std::string>() == name) return item[inner];
  }
  return YAML::Node();
}

}  // namespace

Result<KubeConfig> LoadKubeconfig(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ": not a kubeconfig: " + e.what());
  }
  const std::string dir =
      path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  try {
    const std::string context_name =
        root["current-context"] ? root["current-context"].as<std::string>() : "";
    if (context_name.empty()) return Status::InvalidArgument(path + ": no current-context");
    YAML::Node context = FindNamed(root["contexts"], context_name, "context");
    if (!context) {
      return Status::InvalidArgument(path + ": current-context \"" + context_name +
                                     "\" is not in contexts");
    }
    const std::string cluster_name = context["cluster"] ? context["cluster"].as<std::string>() : "";
    const std::string user_name = context["user"] ? context["user"].as<std::string>() : "";
    YAML::Node cluster = FindNamed(root["clusters"], cluster_name, "cluster");
    if (!cluster || !cluster["server"]) {
      return Status::InvalidArgument(path + ": cluster \"" + cluster_name + "\" has no server");
    }
    KubeConfig c;
    c.server = cluster["server"].as<std::string>();
    c.insecure_skip_tls_verify =
        cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>();
    Result<std::string> ca =
        FileOrData(cluster, "certificate-authority", "certificate-authority-data", dir);
    if (!ca.ok()) return Status::InvalidArgument(path + ": " + ca.status().message());
    c.ca_data = *ca;
    YAML::Node user = FindNamed(root["users"], user_name, "user");
    if (user) {
      if (user["token"]) c.token = user["token"].as<std::string>();
      if (user["tokenFile"]) c.token_file = user["tokenFile"].as<std::string>();
      Result<std::string> cert =
          FileOrData(user, "client-certificate", "client-certificate-data", dir);
      Result<std::string> key = FileOrData(user, "client-key", "client-key-data", dir);
      if (!cert.ok()) return Status::InvalidArgument(path + ": " + cert.status().message());
      if (!key.ok()) return Status::InvalidArgument(path + ": " + key.status().message());
      c.client_cert_data = *cert;
      c.client_key_data = *key;
    }
    return c;
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ": " + e.what());
  }
}

Result<KubeConfig> InClusterConfig() {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr) {
    return Status::NotFound("not in a cluster (KUBERNETES_SERVICE_HOST is not set)");
  }
  const std::string dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  KubeConfig c;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6
  c.server = "https://" + h + ":" + port;
  Result<std::string> ca = ReadFile(dir + "/ca.crt");
  if (!ca.ok()) return ca.status();
  c.ca_data = *ca;
  c.token_file = dir + "/token";
  return c;
}

Result<KubeConfig> ResolveKubeConfig(const std::string& kubeconfig_path) {
  if (!kubeconfig_path.empty()) return LoadKubeconfig(kubeconfig_path);
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    std::string first = env;
    first = first.substr(0, first.find(':'));
    return LoadKubeconfig(first);
  }
  Result<KubeConfig> in_cluster = InClusterConfig();
  if (in_cluster.ok()) return in_cluster;
  if (const char* home = std::getenv("HOME"); home != nullptr) {
    const std::string path = std::string(home) + "/.kube/config";
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) return LoadKubeconfig(path);
  }
  return Status::NotFound(
      "no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG, or run in a pod with a "
      "service account");
}

std::string KubeResponse::Message() const {
  if (json.is_object() && json.contains("message") && json["message"].is_string()) {
    return "HTTP " + std::to_string(status) + ": " + json["message"].get<std::string>();
  }
  return "HTTP " + std::to_string(status) + ": " + body.substr(0, 500);
}

std::string QueryEscape(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Result<std::unique_ptr<KubeClient>> KubeClient::Create(KubeConfig config) {
  std::string rest = config.server;
  if (rest.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("Kubernetes server \"" + config.server +
                                   "\": expected https://HOST:PORT");
  }
  rest = rest.substr(8);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  std::unique_ptr<KubeClient> c(new KubeClient(std::move(config)));
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || rest.find(']', colon) != std::string::npos) {
    c->host_ = rest;
    c->port_ = "443";
  } else {
    c->host_ = rest.substr(0, colon);
    c->port_ = rest.substr(colon + 1);
  }
  if (c->host_.size() > 2 && c->host_.front() == '[')
    c->host_ = c->host_.substr(1, c->host_.size() - 2);
  c->tls_ = std::make_unique<TlsContext>();
  beast::error_code ec;
  if (c->config_.insecure_skip_tls_verify) {
    c->tls_->ctx.set_verify_mode(ssl::verify_none);
  } else {
    c->tls_->ctx.set_verify_mode(ssl::verify_peer);
    if (c->config_.ca_data.empty()) {
      c->tls_->ctx.set_default_verify_paths(ec);
    } else {
      c->tls_->ctx.add_certificate_authority(asio::buffer(c->config_.ca_data), ec);
    }
    if (ec) return Status::InvalidArgument("the cluster's CA certificate: " + ec.message());
  }
  if (!c->config_.client_cert_data.empty()) {
    c->tls_->ctx.use_certificate_chain(asio::buffer(c->config_.client_cert_data), ec);
    if (!ec) {
      c->tls_->ctx.use_private_key(asio::buffer(c->config_.client_key_data), ssl::context::pem, ec);
    }
    if (ec) return Status::InvalidArgument("the client certificate: " + ec.message());
  }
  return c;
}

KubeClient::KubeClient(KubeConfig config) : config_(std::move(config)) {}

KubeClient::~KubeClient() = default;

std::string KubeClient::Token() {
  std::lock_guard<std::mutex> lock(mu_);
  if (config_.token_file.empty()) return config_.token;
  struct stat st {};
  if (stat(config_.token_file.c_str(), &st) == 0 && st.st_mtime != token_mtime_) {
    Result<std::string> t = ReadFile(config_.token_file);
    if (t.ok()) {
      token_ = *t;
      while (!token_.empty() && (token_.back() == '\n' || token_.back() == '\r')) token_.pop_back();
      token_mtime_ = st.st_mtime;
    }
  }
  return token_;
}

Result<std::unique_ptr<KubeClient::Connection>> KubeClient::Connect() {
  auto conn = std::make_unique<Connection>(tls_->ctx);
  beast::error_code ec;
  asio::ip::tcp::resolver resolver(conn->io);
  auto results = resolver.resolve(host_, port_, ec);
  if (!ec) asio::connect(conn->stream.next_layer(), results, ec);
  if (ec) {
    return Status::FailedPrecondition("cannot reach the Kubernetes API server at " +
                                      config_.server + ": " + ec.message());
  }
  conn->stream.next_layer().set_option(asio::ip::tcp::no_delay(true));
  if (!config_.insecure_skip_tls_verify) {
    conn->stream.set_verify_callback(ssl::host_name_verification(host_));
  }
  // SNI, spelled out: OpenSSL's SSL_set_tlsext_host_name macro is a C cast.
  SSL_ctrl(conn->stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>(host_.c_str()));
  conn->stream.handshake(ssl::stream_base::client, ec);
  if (ec) {
    return Status::FailedPrecondition("TLS with the Kubernetes API server at " + config_.server +
                                      " failed: " + ec.message());
  }
  return conn;
}

namespace {

http::request<http::string_body> MakeRequest(std::string_view method, const std::string& path,
                                             const std::string& body, std::string_view content_type,
                                             const std::string& host, const std::string& token) {
  http::request<http::string_body> req;
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(path);
  req.version(11);
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "sluice/0.1.0");
  req.set(http::field::accept, "application/json");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) {
    req.set(http::field::content_type,
            beast::string_view(content_type.data(), content_type.size()));
    req.body() = body;
  }
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

}  // namespace

Result<KubeResponse> KubeClient::Request(std::string_view method, const std::string& path,
                                         const std::string& body, std::string_view content_type) {
  const auto req = MakeRequest(method, path, body, content_type, host_, Token());
  // A kept-alive connection may have been closed by the server since; a
  // request that fails on one is sent once more on a new connection.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> conn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (attempt == 0 && !idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    const bool reused = conn != nullptr;
    if (!conn) {
      Result<std::unique_ptr<Connection>> made = Connect();
      if (!made.ok()) return made.status();
      conn = std::move(made).value();
    }
    beast::error_code ec;
    http::write(conn->stream, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ULL << 31);
    if (!ec) http::read(conn->stream, conn->buffer, parser, ec);
    if (ec) {
      if (reused) continue;
      return Status::FailedPrecondition(std::string(method) + " " + path +
                                        " failed: " + ec.message());
    }
    KubeResponse out;
    out.status = static_cast<int>(parser.get().result_int());
    out.body = std::move(parser.get().body());
    out.json = nlohmann::json::parse(out.body, nullptr, /*allow_exceptions=*/false);
    if (out.json.is_discarded()) out.json = nullptr;
    if (parser.get().keep_alive()) {
      std::lock_guard<std::mutex> lock(mu_);
      idle_.push_back(std::move(conn));
    }
    return out;
  }
  return Status::FailedPrecondition(std::string(method) + " " + path + " failed");
}

Result<KubeResponse> KubeClient::Watch(const std::string& path,
                                       const std::function<bool(const WatchEvent&)>& on_event) {
  Result<std::unique_ptr<Connection>> made = Connect();
  if (!made.ok()) return made.status();
  std::unique_ptr<Connection> conn = std::move(made).value();
  const int fd = conn->stream.next_layer().native_handle();
  {
    std::lock_guard<std::mutex> lock(mu_);
    watch_fds_.insert(fd);
  }
  struct Unregister {
    KubeClient* c;
    int fd;
    ~Unregister() {
      std::lock_guard<std::mutex> lock(c->mu_);
      c->watch_fds_.erase(fd);
    }
  } unregister{this, fd};

  auto req = MakeRequest("GET", path, "", "", host_, Token());
  beast::error_code ec;
  http::write(conn->stream, req, ec);
  if (ec) return Status::FailedPrecondition("watch " + path + " failed: " + ec.message());
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  http::read_header(conn->stream, conn->buffer, parser, ec);
  if (ec) return Status::FailedPrecondition("watch " + path + " failed: " + ec.message());
  KubeResponse out;
  out.status = static_cast<int>(parser.get().result_int());
  if (out.status != 200) {
    http::read(conn->stream, conn->buffer, parser, ec);
    out.body = parser.get().body();
    out.json = nlohmann::json::parse(out.body, nullptr, false);
    if (out.json.is_discarded()) out.json = nullptr;
    return out;
  }
  // Events are JSON objects, one per line, in chunks that need not end at
  // a line's end.
  std::string pending;
  bool stop = false;
  auto on_chunk = [&](uint64_t, beast::string_view data, beast::error_code&) -> size_t {
    pending.append(data.data(), data.size());
    size_t start = 0;
    for (size_t nl = pending.find('\n'); nl != std::string::npos && !stop;
         nl = pending.find('\n', start)) {
      nlohmann::json j =
          nlohmann::json::parse(pending.begin() + static_cast<std::ptrdiff_t>(start),
                                pending.begin() + static_cast<std::ptrdiff_t>(nl), nullptr, false);
      start = nl + 1;
      if (j.is_discarded() || !j.is_object()) continue;
      WatchEvent e;
      e.type = j.value("type", "");
      e.object = std::move(j["object"]);
      if (!on_event(e)) stop = true;
    }
    pending.erase(0, start);
    return data.size();
  };
  parser.on_chunk_body(on_chunk);
  while (!stop && !parser.is_done()) {
    http::read_some(conn->stream, conn->buffer, parser, ec);
    if (ec) break;  // the server ended the stream, or CancelWatches shut the socket
  }
  return out;
}

void KubeClient::CancelWatches() {
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : watch_fds_) ::shutdown(fd, SHUT_RDWR);
}

}  // namespace sluice
