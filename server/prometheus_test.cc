// A real Prometheus server (Debian's `prometheus`) scrapes a real sluice
// server with a bearer token, and a series is queried back through
// Prometheus's own HTTP API.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "server/testing/server_process.h"

namespace sluice {
namespace {

using nlohmann::json;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST(PrometheusTest, ScrapesTheServerAndAnswersAQuery) {
  const std::string dir = "/tmp/sluice-prometheus-test-" + std::to_string(getpid());
  testing::ServerProcess server(dir);
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  ApiClient admin = server.Http(server.AdminToken());
  Result<HttpResult> created = admin.Call("POST", "/api/v1/projects",
                                          json{{"name", "vision"}, {"gpu", {{"quota", 3}}}}.dump());
  ASSERT_TRUE(created.ok() && created->status == 201);

  const std::string token_file = dir + "/scrape-token";
  std::ofstream(token_file) << server.AdminToken();
  const std::string config = dir + "/prometheus.yml";
  std::ofstream(config) << "global:\n  scrape_interval: 1s\n"
                        << "scrape_configs:\n  - job_name: sluice\n"
                        << "    authorization:\n      credentials_file: " << token_file << "\n"
                        << "    static_configs:\n      - targets: ['127.0.0.1:" << server.port()
                        << "']\n";
  const int port = FreePort();
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  pid_t pid = fork();
  if (pid == 0) {
    freopen((dir + "/prometheus.log").c_str(), "w", stderr);
    execlp("prometheus", "prometheus", ("--config.file=" + config).c_str(),
           ("--storage.tsdb.path=" + dir + "/tsdb").c_str(),
           ("--web.listen-address=" + listen).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ApiClient prom(ClientConfig{"http://" + listen, "", ""});
  json value;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    Result<HttpResult> r = prom.Call(
        "GET", "/api/v1/query?query=" + UrlEncode("sluice_queue_gpu_quota{queue=\"vision\"}"));
    if (r.ok() && r->status == 200 && r->json.is_object() && !r->json["data"]["result"].empty()) {
      value = r->json["data"]["result"][0]["value"][1];
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  // The scrape itself must be healthy too.
  Result<HttpResult> up = prom.Call("GET", "/api/v1/query?query=up");
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  std::ifstream log(dir + "/prometheus.log");
  std::string log_text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(value.is_null()) << "Prometheus never returned the series\n" << log_text;
  EXPECT_EQ(value, "3");
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->json["data"]["result"][0]["value"][1], "1") << up->body;
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice
