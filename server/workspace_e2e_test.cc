// End-to-end tests of workspaces with a real JupyterLab (the one
// scripts/setup.sh installs into .venv), through a real server and CLI:
// a kernel started over the Jupyter REST API and driven over its WebSocket,
// both through the server's proxy, prints 42; the workspace on a quarter of
// a GPU sees its device and its memory limit; only members of the project
// get through; a file outlives stop and start; idle culling suspends an
// idle workspace and spares one whose kernel is busy.
//
// JupyterLab takes seconds to start, so the suite starts one server and two
// workspaces once, and the tests share them (they run in file order).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/testing/server_process.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using nlohmann::json;
using tcp = asio::ip::tcp;
using testing::CommandResult;
using testing::ServerProcess;

template <class F>
bool Eventually(F f, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return f();
}

void SetTimeouts(int fd, int seconds) {
  timeval tv{};
  tv.tv_sec = seconds;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

struct Answer {
  int status = 0;
  http::fields headers;
  std::string body;
  json Json() const { return json::parse(body, nullptr, false); }
};

// One HTTP request to the server with whatever headers a test needs (a
// bearer token, a cookie), as a browser or a Jupyter client would send it.
Answer Request(int port, http::verb method, const std::string& target,
               const std::vector<std::pair<http::field, std::string>>& headers = {},
               const std::string& body = "") {
  Answer a;
  asio::io_context io;
  tcp::socket socket(io);
  beast::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<uint16_t>(port)), ec);
  if (ec) return a;
  SetTimeouts(socket.native_handle(), 30);
  http::request<http::string_body> req(method, target, 11);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  for (const auto& [field, value] : headers) req.set(field, value);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req, ec);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  http::read(socket, buffer, parser, ec);
  if (ec) return a;
  a.status = static_cast<int>(parser.get().result_int());
  for (const auto& f : parser.get()) a.headers.set(f.name_string(), f.value());
  a.body = parser.get().body();
  return a;
}

std::pair<http::field, std::string> Bearer(const std::string& token) {
  return {http::field::authorization, "Bearer " + token};
}

// A Jupyter kernel's WebSocket (the JSON protocol), through the proxy.
class KernelChannel {
 public:
  // Returns the handshake's HTTP status (101 when it is open).
  int Connect(int port, const std::string& target, const std::string& token) {
    beast::error_code ec;
    ws_.next_layer().connect(
        tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<uint16_t>(port)), ec);
    if (ec) return 0;
    SetTimeouts(ws_.next_layer().native_handle(), 60);
    ws_.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
      req.set(http::field::authorization, "Bearer " + token);
    }));
    websocket::response_type res;
    ws_.handshake(res, "127.0.0.1:" + std::to_string(port), target, ec);
    if (ec) {
      ADD_FAILURE() << "WebSocket handshake to " << target << ": " << ec.message();
      return 0;
    }
    return static_cast<int>(res.result_int());
  }

  // Sends an execute_request; returns its msg_id.
  std::string Execute(const std::string& code) {
    const std::string id = "test-" + std::to_string(++sent_);
    json msg{{"header",
              {{"msg_id", id},
               {"username", "test"},
               {"session", "workspace-e2e"},
               {"msg_type", "execute_request"},
               {"version", "5.3"}}},
             {"parent_header", json::object()},
             {"metadata", json::object()},
             {"content",
              {{"code", code},
               {"silent", false},
               {"store_history", false},
               {"user_expressions", json::object()},
               {"allow_stdin", false},
               {"stop_on_error", true}}},
             {"channel", "shell"},
             {"buffers", json::array()}};
    ws_.text(true);
    ws_.write(asio::buffer(msg.dump()));
    return id;
  }

  // What request `id` printed, once its execute_reply has come and the
  // kernel has said it is idle again (after its last output: the reply and
  // the output travel on different channels, in no set order).
  std::string Output(const std::string& id) {
    std::string out;
    bool replied = false;
    bool idle = false;
    for (int i = 0; i < 1000 && !(replied && idle); ++i) {
      beast::flat_buffer buffer;
      beast::error_code ec;
      ws_.read(buffer, ec);
      if (ec) return out + "<read failed: " + ec.message() + ">";
      json m = json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
      if (!m.is_object() || m["parent_header"].value("msg_id", "") != id) continue;
      const std::string type = m["header"].value("msg_type", "");
      if (type == "stream") out += m["content"].value("text", "");
      if (type == "error") out += "<error: " + m["content"].value("evalue", "") + ">";
      if (type == "execute_reply") replied = true;
      if (type == "status" && m["content"].value("execution_state", "") == "idle") idle = true;
    }
    return out;
  }

 private:
  asio::io_context io_;
  websocket::stream<tcp::socket> ws_{io_};
  int sent_ = 0;
};

class WorkspaceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = "/tmp/sluice-workspace-test-" + std::to_string(getpid());
    server_ = new ServerProcess(dir_);
    std::string error;
    ASSERT_TRUE(std::filesystem::exists(JUPYTER_LAB))
        << JUPYTER_LAB << " is missing: scripts/setup.sh installs JupyterLab into .venv";
    ASSERT_TRUE(server_->Start(
        &error, {"--grace-period", "5", "--jupyter", JUPYTER_LAB, "--workspace-cull-ms", "250"}))
        << error;
    Ok("project create p --gpu-quota 2");
    Ok("project create other --gpu-quota 1");
    Ok("project add-member p alice");
    Ok("project add-member other bob");
    // Culling stays off until the culling test turns it on.
    Patch("p", json{{"workspaces", {{"idleTimeout", "0s"}}}});
    alice_ = Token("alice");
    bob_ = Token("bob");
    // Both start at once: JupyterLab is slow to start.
    Ok("workspace create nb -p p --jupyter --gpu 0.25");
    Ok("workspace create spare -p p");
    for (const char* name : {"nb", "spare"}) {
      ASSERT_TRUE(Eventually([&] { return Up(name); }, 180))
          << name << " did not come up:\n"
          << server_->Cli(std::string("logs ") + name + " -p p").out << "\n"
          << server_->Log();
    }
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    if (!::testing::UnitTest::GetInstance()->Failed()) std::filesystem::remove_all(dir_);
  }

  static std::string Ok(const std::string& args) {
    CommandResult r = server_->Cli(args);
    EXPECT_EQ(r.status, 0) << "sluice " << args << "\n" << r.out;
    return r.out;
  }
  static void Patch(const std::string& project, const json& body) {
    Answer a = Request(server_->port(), http::verb::patch, "/api/v1/projects/" + project,
                       {Bearer(server_->AdminToken())}, body.dump());
    EXPECT_EQ(a.status, 200) << a.body;
  }
  static std::string Token(const std::string& user) {
    CommandResult r = server_->Cli("token create --user " + user + " --json");
    EXPECT_EQ(r.status, 0) << r.out;
    return json::parse(r.out, nullptr, false).value("token", "");
  }
  static json Workspace(const std::string& name) {
    return server_->Http(server_->AdminToken())
        .Call("GET", "/api/v1/projects/p/workspaces/" + name)
        ->json;
  }
  static std::string Phase(const std::string& name) { return Workspace(name).value("phase", ""); }
  // Running, and JupyterLab answers through the proxy.
  static bool Up(const std::string& name) {
    if (Phase(name) != "Running") return false;
    return Request(server_->port(), http::verb::get, "/ws/p/" + name + "/api/status",
                   {Bearer(server_->AdminToken())})
               .status == 200;
  }
  static std::string StartKernel(const std::string& name, const std::string& token) {
    Answer a = Request(server_->port(), http::verb::post, "/ws/p/" + name + "/api/kernels",
                       {Bearer(token)}, "{}");
    EXPECT_EQ(a.status, 201) << a.body;
    return a.Json().value("id", "");
  }

  static inline std::string dir_;
  static inline ServerProcess* server_ = nullptr;
  static inline std::string alice_;
  static inline std::string bob_;
};

TEST_F(WorkspaceTest, AKernelThroughTheProxyPrints42AndSeesItsGpuShare) {
  const std::string kernel = StartKernel("nb", alice_);
  ASSERT_FALSE(kernel.empty());
  KernelChannel channel;
  ASSERT_EQ(
      channel.Connect(server_->port(), "/ws/p/nb/api/kernels/" + kernel + "/channels", alice_),
      101);
  EXPECT_EQ(channel.Output(channel.Execute("print(6*7)")), "42\n");
  // A quarter of a simulated 80 GiB device: its UUID, and a quarter of its memory.
  EXPECT_EQ(channel.Output(channel.Execute(
                "import os; print(os.environ['CUDA_VISIBLE_DEVICES'], "
                "os.environ['SLUICE_GPU_FRACTION'], os.environ['SLUICE_GPU_MEMORY_LIMIT_MIB'])")),
            "GPU-sim-0-0 0.25 20480\n");
  // The notebook runs in its workspace's directory, and never learns
  // sluice's credentials.
  EXPECT_EQ(channel.Output(channel.Execute("import os; print(os.getcwd())")),
            dir_ + "/data/workspaces/p/nb\n");
  json ws = Workspace("nb");
  EXPECT_EQ(ws["kind"], "jupyter");
  EXPECT_EQ(ws["gpu"], 0.25);
  EXPECT_EQ(ws["allocatedGpu"], 0.25);
  EXPECT_EQ(ws["url"], server_->url() + "/ws/p/nb/");
  EXPECT_EQ(ws.dump().find("slc_"), std::string::npos) << "no secret in the API";
  // Workspaces are workloads: build class, never preempted.
  CommandResult list = server_->Cli("describe nb -p p --json");
  json w = json::parse(list.out, nullptr, false);
  EXPECT_EQ(w["spec"]["priorityClass"], "build");
  EXPECT_EQ(w["spec"]["preemptible"], false);
}

TEST_F(WorkspaceTest, OnlyMembersOfTheProjectGetThrough) {
  // bob is a member of another project: 403, over HTTP and for WebSockets.
  Answer refused = Request(server_->port(), http::verb::get, "/ws/p/nb/api/status", {Bearer(bob_)});
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.body.find("not a member of project \\\"p\\\""), std::string::npos)
      << refused.body;
  // (Beast's client keeps no refused handshake's status: the upgrade by hand.)
  Answer upgrade = Request(server_->port(), http::verb::get, "/ws/p/nb/api/kernels/x/channels",
                           {Bearer(bob_),
                            {http::field::connection, "Upgrade"},
                            {http::field::upgrade, "websocket"},
                            {http::field::sec_websocket_version, "13"},
                            {http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ=="}});
  EXPECT_EQ(upgrade.status, 403) << upgrade.body;
  // Nobody signed in: 401; a member: through.
  EXPECT_EQ(Request(server_->port(), http::verb::get, "/ws/p/nb/api/status").status, 401);
  EXPECT_EQ(
      Request(server_->port(), http::verb::get, "/ws/p/nb/api/status", {Bearer(alice_)}).status,
      200);
  // bob cannot list, open or stop them either.
  EXPECT_EQ(Request(server_->port(), http::verb::post, "/api/v1/projects/p/workspaces/nb/open",
                    {Bearer(bob_)})
                .status,
            403);
}

TEST_F(WorkspaceTest, OpenSignsABrowserInOnceAndTheTokenStaysHidden) {
  Answer open = Request(server_->port(), http::verb::post, "/api/v1/projects/p/workspaces/nb/open",
                        {Bearer(alice_)});
  ASSERT_EQ(open.status, 200) << open.body;
  std::string url = open.Json().value("openUrl", "");
  ASSERT_EQ(url.rfind(server_->url() + "/ws/p/nb/?sluice-ticket=", 0), 0) << url;
  const std::string target = url.substr(server_->url().size());
  // The browser follows the link: a cookie, and on to the workspace.
  Answer signed_in = Request(server_->port(), http::verb::get, target);
  ASSERT_EQ(signed_in.status, 302) << signed_in.body;
  EXPECT_EQ(std::string(signed_in.headers[http::field::location]), "/ws/p/nb/");
  std::string cookie(signed_in.headers[http::field::set_cookie]);
  ASSERT_EQ(cookie.rfind("sluice-ws=", 0), 0) << cookie;
  cookie = cookie.substr(0, cookie.find(';'));
  Answer lab =
      Request(server_->port(), http::verb::get, "/ws/p/nb/lab", {{http::field::cookie, cookie}});
  EXPECT_EQ(lab.status, 200);
  EXPECT_NE(lab.body.find("jupyter-config-data"), std::string::npos);
  // JupyterLab writes its token into the page; the proxy takes it out.
  EXPECT_NE(lab.body.find("\"token\": \"\""), std::string::npos);
  EXPECT_EQ(lab.body.find("slc_"), std::string::npos);
  // The cookie works for the API behind it too; the ticket only once.
  EXPECT_EQ(Request(server_->port(), http::verb::get, "/ws/p/nb/api/status",
                    {{http::field::cookie, cookie}})
                .status,
            200);
  EXPECT_EQ(Request(server_->port(), http::verb::get, target).status, 401);
  // `sluice workspace open` prints such a link.
  CommandResult cli = server_->Cli("workspace open nb -p p");
  EXPECT_EQ(cli.status, 0) << cli.out;
  EXPECT_NE(cli.out.find("/ws/p/nb/?sluice-ticket="), std::string::npos) << cli.out;
}

TEST_F(WorkspaceTest, StopAndStartKeepTheFiles) {
  const std::string token = server_->AdminToken();
  Answer put = Request(server_->port(), http::verb::put, "/ws/p/spare/api/contents/notes.txt",
                       {Bearer(token)},
                       json{{"type", "file"}, {"format", "text"}, {"content", "kept"}}.dump());
  ASSERT_EQ(put.status, 201) << put.body;
  const std::string file = dir_ + "/data/workspaces/p/spare/notes.txt";
  ASSERT_TRUE(std::filesystem::exists(file));

  Ok("workspace stop spare -p p --wait");
  EXPECT_EQ(Phase("spare"), "Suspended");
  EXPECT_EQ(Workspace("spare")["allocatedGpu"], 0);
  EXPECT_TRUE(std::filesystem::exists(file));
  Answer down =
      Request(server_->port(), http::verb::get, "/ws/p/spare/api/status", {Bearer(token)});
  EXPECT_EQ(down.status, 503);
  EXPECT_NE(down.body.find("sluice workspace start spare"), std::string::npos) << down.body;

  Ok("workspace start spare -p p --wait");
  Answer get = Request(server_->port(), http::verb::get, "/ws/p/spare/api/contents/notes.txt",
                       {Bearer(token)});
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(get.Json().value("content", ""), "kept");
  std::string events = server_->Cli("describe spare -p p").out;
  EXPECT_NE(events.find("Suspended"), std::string::npos) << events;
  EXPECT_NE(events.find("Resumed"), std::string::npos) << events;
}

TEST_F(WorkspaceTest, IdleCullingSuspendsTheIdleOneAndSparesABusyKernel) {
  // nb's kernel is busy for a minute (and says nothing meanwhile); spare has
  // no kernel at all.
  const std::string kernel = StartKernel("nb", alice_);
  KernelChannel channel;
  ASSERT_EQ(
      channel.Connect(server_->port(), "/ws/p/nb/api/kernels/" + kernel + "/channels", alice_),
      101);
  EXPECT_EQ(channel.Output(channel.Execute("print('ready')")), "ready\n");
  channel.Execute("import time; time.sleep(60)");
  ASSERT_TRUE(Eventually(
      [&] {
        Answer k = Request(server_->port(), http::verb::get, "/ws/p/nb/api/kernels/" + kernel,
                           {Bearer(alice_)});
        return k.Json().is_object() && k.Json().value("execution_state", "") == "busy";
      },
      20));
  Patch("p", json{{"workspaces", {{"idleTimeout", "3s"}}}});
  ASSERT_TRUE(Eventually([&] { return Phase("spare") == "Suspended"; }, 30))
      << Workspace("spare").dump(2);
  json spare = Workspace("spare");
  EXPECT_NE(spare["message"].get<std::string>().find("idle for"), std::string::npos)
      << spare["message"];
  std::string events = server_->Cli("describe spare -p p").out;
  EXPECT_NE(events.find("Suspending"), std::string::npos) << events;
  // Well past the timeout, the busy one still runs.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_EQ(Phase("nb"), "Running") << Workspace("nb").dump(2);
  Patch("p", json{{"workspaces", {{"idleTimeout", "0s"}}}});
}

TEST_F(WorkspaceTest, ACommandWorkspaceIsServedFromItsRoot) {
  // Any web app: here Python's file server, on a port of its own, sees
  // paths without the /ws/p/web prefix.
  asio::io_context io;
  tcp::acceptor probe(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const int port = probe.local_endpoint().port();
  probe.close();
  Ok("workspace create web -p p --command 'echo hello > index.html; exec python3 -m http.server "
     "$PORT --bind 127.0.0.1' --port " +
     std::to_string(port) + " --wait");
  Answer page = Request(server_->port(), http::verb::get, "/ws/p/web/index.html", {Bearer(alice_)});
  EXPECT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.body, "hello\n");
  EXPECT_EQ(Workspace("web")["kind"], "command");
  Ok("workspace delete web -p p");
}

TEST_F(WorkspaceTest, ARunningWorkspaceIsReachedAgainAfterTheServerRestarts) {
  // JupyterLab outlives the server, like any pod; the new server adopts it
  // and knows its port and token from the store.
  server_->Kill(SIGTERM);
  std::string error;
  ASSERT_TRUE(server_->Start(
      &error, {"--grace-period", "5", "--jupyter", JUPYTER_LAB, "--workspace-cull-ms", "250"}))
      << error;
  EXPECT_EQ(Phase("nb"), "Running");
  EXPECT_EQ(
      Request(server_->port(), http::verb::get, "/ws/p/nb/api/status", {Bearer(alice_)}).status,
      200);
}

TEST_F(WorkspaceTest, DeleteRemovesTheWorkspaceAndItsFiles) {
  Ok("workspace delete spare -p p");
  EXPECT_TRUE(Eventually(
      [&] {
        return server_->Http(server_->AdminToken())
                   .Call("GET", "/api/v1/projects/p/workspaces/spare")
                   ->status == 404;
      },
      20));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/data/workspaces/p/spare"));
  std::string list = Ok("workspace list -p p");
  EXPECT_NE(list.find("nb"), std::string::npos) << list;
  EXPECT_EQ(list.find("spare"), std::string::npos) << list;
}

}  // namespace
}  // namespace sluice
