// A small synchronous client of the sluice server's API, for the CLI and
// the tests: HTTP/1.1 over TCP (http://HOST:PORT, with a bearer token) or
// over the local Unix socket (known by uid; a token is optional).
#ifndef SLUICE_CLI_API_CLIENT_H_
#define SLUICE_CLI_API_CLIENT_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace sluice {

struct ClientConfig {
  std::string server;  // http://HOST:PORT; empty: the Unix socket
  std::string socket;  // used when server is empty
  std::string token;   // bearer token; empty: none
};

struct HttpResult {
  int status = 0;
  std::string body;
  nlohmann::json json;  // the body parsed, or null when it is not JSON
  // The server's error message for a 4xx/5xx, or the body.
  std::string ErrorMessage() const;
};

class ApiClient {
 public:
  explicit ApiClient(ClientConfig config) : config_(std::move(config)) {}

  // Fails only when the server cannot be reached or answers garbage; HTTP
  // errors come back as results with their status.
  Result<HttpResult> Call(const std::string& method, const std::string& target,
                          const std::string& body = "") const;

  // Follows a Server-Sent Events stream; `on_event(type, data)` is called
  // per event until it returns false or the server closes the stream.
  Status Stream(const std::string& target,
                const std::function<bool(const std::string&, const std::string&)>& on_event) const;

  // Follows a plain streamed body (a log with follow=true): `on_chunk` gets
  // each piece as it arrives until it returns false or the server closes.
  Status StreamRaw(const std::string& target,
                   const std::function<bool(const std::string&)>& on_chunk) const;

  // "http://127.0.0.1:8080" or "unix:/run/sluice.sock", for messages.
  std::string Where() const;

 private:
  ClientConfig config_;
};

// Percent-encodes one path segment or query value.
std::string UrlEncode(const std::string& s);

}  // namespace sluice

#endif  // SLUICE_CLI_API_CLIENT_H_
