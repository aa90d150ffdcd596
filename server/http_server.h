// The HTTP front of the control plane: HTTP/1.1 over TCP (bearer tokens)
// and over a Unix socket (the peer's uid, or a bearer token), on one
// Boost.Asio io_context whose single thread also runs the control plane.
// Requests are read with a body limit (413 above it), authenticated, and
// handed to HandleApi; watches stay open as Server-Sent Events streams.
// Paths under /ws/PROJECT/NAME/ go to that workspace (docs/workspaces.md):
// each request is relayed whole to its server on 127.0.0.1, and a WebSocket
// upgrade becomes a byte tunnel both ways; callers sign in with a bearer
// token, the cookie a one-use ticket from `workspace open` sets, or the
// socket's peer, and the workspace sees none of those credentials.
#ifndef SLUICE_SERVER_HTTP_SERVER_H_
#define SLUICE_SERVER_HTTP_SERVER_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "server/control_plane.h"
#include "server/web_files.h"

namespace sluice {

class HttpServer {
 public:
  // Callers on the Unix socket with uid 0 or `server_uid` are admins.
  HttpServer(boost::asio::io_context& io, ControlPlane* cp, Metrics* metrics, int64_t server_uid);

  // Listens on "HOST:PORT" (port 0 picks a free one); returns the port.
  Result<int> ListenTcp(const std::string& host_port);
  // Listens on a Unix socket at `path` (replacing a stale one), mode 0666:
  // anyone may connect, and each is known by their uid.
  Status ListenUnix(const std::string& path);
  void Close();
  // Serves the web UI from `root` at every path outside the API.
  void ServeWeb(const std::string& root) { web_.emplace(root); }

  struct Shared {
    ControlPlane* cp;
    Metrics* metrics;
    int64_t server_uid;
    const std::optional<WebFiles>* web;
  };

 private:
  void AcceptTcp();
  void AcceptUnix();

  boost::asio::io_context& io_;
  std::optional<WebFiles> web_;
  Shared shared_;
  std::optional<boost::asio::ip::tcp::acceptor> tcp_;
  std::optional<boost::asio::local::stream_protocol::acceptor> unix_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_HTTP_SERVER_H_
