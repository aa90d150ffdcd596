// Integration tests against a real `sluice server` process on 127.0.0.1
// with a real SQLite file: the CLI surface, auth and RBAC, bad input,
// scheduling through the server, watches, restarts and kill -9.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "server/testing/api_checks.h"
#include "server/testing/server_process.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::ErrorOf;
using testing::Eventually;
using testing::Expect;
using testing::ServerProcess;

// What test workloads run: they hold their GPUs until stopped.
const std::pair<const char*, json> kSleep{"command", json::array({"sleep", "3600"})};

std::string TestDir() {
  return "/tmp/sluice-server-test-" + std::to_string(getpid()) + "-" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(TestDir());
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
    admin_token_ = server_->AdminToken();
    ASSERT_FALSE(admin_token_.empty());
  }
  void TearDown() override {
    server_.reset();
    if (!HasFailure()) std::filesystem::remove_all(TestDir());
  }

  ApiClient Admin() const { return server_->Http(admin_token_); }

  // Creates a token for `user` through the admin API.
  std::string TokenFor(const std::string& user) {
    json t = Expect(Admin(), 201, "POST", "/api/v1/tokens", {{"user", user}});
    return t["token"];
  }

  std::unique_ptr<ServerProcess> server_;
  std::string admin_token_;
};

TEST_F(ServerTest, FirstStartWritesAnAdminTokenOnlyTheOwnerCanRead) {
  struct stat st {};
  ASSERT_EQ(stat((server_->dir() + "/data/admin-token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(server_->Log().find("admin-token"), std::string::npos) << server_->Log();
  json me = Expect(Admin(), 200, "GET", "/api/v1/whoami");
  EXPECT_EQ(me["user"], "admin");
  EXPECT_TRUE(me["admin"].get<bool>());
}

TEST_F(ServerTest, TheCliSurface) {
  auto ok = [&](const std::string& args) {
    testing::CommandResult r = server_->Cli(args);
    EXPECT_EQ(r.status, 0) << "sluice " << args << "\n" << r.out;
    return r.out;
  };
  EXPECT_NE(ok("whoami").find("(admin)"), std::string::npos);
  ok("department create research --gpu-quota 6 --gpu-limit 8");
  EXPECT_NE(ok("department list").find("research"), std::string::npos);
  ok("project create vision --department research --gpu-quota 4 --gpu-weight 2");
  ok("project create nlp --department research --gpu-quota 2");
  ok("project set-quota nlp --gpu-quota 3 --priority 120");
  std::string projects = ok("project list --json");
  json pj = json::parse(projects);
  ASSERT_EQ(pj.size(), 2u);
  EXPECT_EQ(pj[1]["gpu"]["quota"], 3);
  EXPECT_EQ(pj[1]["priority"], 120);
  ok("project add-member vision alice");
  ok("project add-member vision bob --role viewer");
  EXPECT_NE(ok("project list").find("alice,bob(viewer)"), std::string::npos);
  ok("project use vision");

  std::string out = ok("submit train --gpu 2 -- sleep 3600.5");
  EXPECT_NE(out.find("submitted vision/train (id 1), queue position 1"), std::string::npos) << out;
  ok("submit half --gpu 0.5 --interactive -- sleep 3600");
  out = ok("submit huge --gpu 9 -- sleep 3600");
  EXPECT_NE(out.find("warning: no node can ever run"), std::string::npos) << out;

  ASSERT_TRUE(Eventually([&] {
    json l = json::parse(server_->Cli("list --json").out, nullptr, false);
    return l.is_array() && l.size() == 3 && l[0]["phase"] == "Running" &&
           l[1]["phase"] == "Running";
  }));
  json list = json::parse(ok("list --json"));
  for (const json& w : list) {
    EXPECT_TRUE(w.contains("name") && w.contains("project") && w.contains("phase") &&
                w.contains("reason"))
        << w;
  }
  EXPECT_EQ(list[2]["name"], "huge");
  EXPECT_EQ(list[2]["phase"], "Pending");
  EXPECT_NE(list[2]["reason"].get<std::string>().find("can never run"), std::string::npos);
  out = ok("list");
  EXPECT_NE(out.find("REASON"), std::string::npos);
  EXPECT_NE(out.find("can never run"), std::string::npos) << out;

  out = ok("describe train");
  EXPECT_NE(out.find("Phase:       Running"), std::string::npos) << out;
  EXPECT_NE(out.find("sleep 3600.5"), std::string::npos) << out;
  EXPECT_NE(out.find("Scheduled"), std::string::npos) << out;
  json described = json::parse(ok("describe train --json"));
  EXPECT_EQ(described["status"]["allocatedGpu"], 2);
  EXPECT_GE(described["events"].size(), 2u);

  out = ok("queue");
  EXPECT_NE(out.find("huge"), std::string::npos) << out;
  EXPECT_EQ(out.find("half"), std::string::npos) << out;
  out = ok("share");
  EXPECT_NE(out.find("FAIR SHARE"), std::string::npos);
  EXPECT_NE(out.find("vision"), std::string::npos);
  json share = json::parse(ok("share --json"));
  EXPECT_EQ(share[1]["name"], "vision");
  EXPECT_EQ(share[1]["allocatedGpu"], 2.5);
  out = ok("top nodes");
  EXPECT_NE(out.find("vision/train"), std::string::npos) << out;
  out = ok("top projects");
  EXPECT_NE(out.find("2.5"), std::string::npos) << out;

  out = ok("token create --user alice --description laptop");
  EXPECT_EQ(out.rfind("slc_", 0), 0u) << out;
  EXPECT_NE(ok("token list").find("laptop"), std::string::npos);

  ok("delete train half huge");
  ASSERT_TRUE(Eventually([&] { return json::parse(server_->Cli("list --json").out).empty(); }));

  // Errors: a message and exit 1; bad command lines exit 2.
  testing::CommandResult r = server_->Cli("submit x -p nosuch -- true");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("no project \"nosuch\""), std::string::npos) << r.out;
  r = server_->Cli("submit y --gpu 1.5 -- true");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("body.gpu"), std::string::npos) << r.out;
  r = server_->Cli("top gpus");
  EXPECT_EQ(r.status, 2) << r.out;
  r = testing::Run(std::string("env SLUICE_SOCKET=/nonexistent.sock ") + SLUICE_BINARY + " list");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("cannot reach the sluice server"), std::string::npos) << r.out;
}

TEST_F(ServerTest, MembersSeeAndTouchOnlyTheirProjects) {
  Expect(Admin(), 201, "POST", "/api/v1/projects", {{"name", "a"}, {"gpu", {{"quota", 4}}}});
  Expect(Admin(), 201, "POST", "/api/v1/projects", {{"name", "b"}, {"gpu", {{"quota", 4}}}});
  Expect(Admin(), 200, "POST", "/api/v1/projects/a/members", {{"user", "alice"}});
  Expect(Admin(), 200, "POST", "/api/v1/projects/a/members", {{"user", "bob"}, {"role", "viewer"}});
  Expect(Admin(), 200, "POST", "/api/v1/projects/b/members", {{"user", "carol"}});
  ApiClient alice = server_->Http(TokenFor("alice"));
  ApiClient bob = server_->Http(TokenFor("bob"));
  ApiClient carol = server_->Http(TokenFor("carol"));

  Expect(alice, 201, "POST", "/api/v1/projects/a/workloads", {{"name", "w1"}, {"gpu", 1}, kSleep});
  Expect(carol, 201, "POST", "/api/v1/projects/b/workloads", {{"name", "w2"}, {"gpu", 1}, kSleep});

  // alice cannot see, delete or submit to b.
  json r = Expect(alice, 403, "POST", "/api/v1/projects/b/workloads",
                  {{"name", "x"}, {"gpu", 1}, kSleep});
  EXPECT_NE(ErrorOf(r).find("not a member of project \"b\""), std::string::npos) << r;
  Expect(alice, 403, "GET", "/api/v1/projects/b/workloads/w2");
  Expect(alice, 403, "DELETE", "/api/v1/projects/b/workloads/w2");
  Expect(alice, 403, "GET", "/api/v1/workloads?project=b");
  json mine = Expect(alice, 200, "GET", "/api/v1/workloads");
  ASSERT_EQ(mine["items"].size(), 1u);
  EXPECT_EQ(mine["items"][0]["name"], "w1");
  json projects = Expect(alice, 200, "GET", "/api/v1/projects");
  ASSERT_EQ(projects["items"].size(), 1u);
  EXPECT_EQ(projects["items"][0]["name"], "a");

  // bob is a viewer of a: reads, never writes.
  EXPECT_EQ(Expect(bob, 200, "GET", "/api/v1/workloads")["items"].size(), 1u);
  r = Expect(bob, 403, "POST", "/api/v1/projects/a/workloads", {{"name", "x"}, {"gpu", 1}, kSleep});
  EXPECT_NE(ErrorOf(r).find("viewer"), std::string::npos) << r;
  Expect(bob, 403, "DELETE", "/api/v1/projects/a/workloads/w1");

  // Only admins change quotas and projects.
  r = Expect(alice, 403, "PATCH", "/api/v1/projects/a", {{"gpu", {{"quota", 8}}}});
  EXPECT_NE(ErrorOf(r).find("only admins"), std::string::npos);
  Expect(alice, 403, "POST", "/api/v1/projects", {{"name", "c"}});
  Expect(alice, 403, "POST", "/api/v1/departments", {{"name", "d"}});
  Expect(alice, 403, "POST", "/api/v1/tokens", {{"user", "carol"}});
  Expect(alice, 403, "POST", "/api/v1/tokens", {{"admin", true}});
  Expect(alice, 201, "POST", "/api/v1/tokens", json::object());  // her own

  // No token, a malformed header, or a revoked token: 401.
  r = Expect(server_->Http(""), 401, "GET", "/api/v1/workloads");
  EXPECT_NE(ErrorOf(r).find("no credentials"), std::string::npos);
  Expect(server_->Http("slc_not-a-real-token"), 401, "GET", "/api/v1/workloads");
  Expect(server_->Http(""), 401, "GET", "/metrics");
  json tokens = Expect(Admin(), 200, "GET", "/api/v1/tokens");
  std::string carol_id;
  for (const json& t : tokens["items"]) {
    if (t["user"] == "carol") carol_id = t["id"];
    EXPECT_FALSE(t.contains("hash")) << t;
  }
  Expect(Admin(), 200, "DELETE", "/api/v1/tokens/" + carol_id);
  Expect(carol, 401, "GET", "/api/v1/workloads");
  // alice deletes in her own project.
  Expect(alice, 202, "DELETE", "/api/v1/projects/a/workloads/w1");
}

TEST_F(ServerTest, BadInputGetsA4xxAndTheServerKeepsServing) {
  ApiClient admin = Admin();
  Expect(admin, 201, "POST", "/api/v1/projects", {{"name", "p"}, {"gpu", {{"quota", 8}}}});
  const std::string submit = "/api/v1/projects/p/workloads";
  Result<HttpResult> r = admin.Call("POST", submit, "{\"name\": \"x\", ");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->ErrorMessage().find("not valid JSON"), std::string::npos) << r->body;

  json e = Expect(admin, 400, "POST", submit, {{"name", "x"}, {"gpu", "lots"}, {"pods", "two"}});
  EXPECT_NE(ErrorOf(e).find("body.gpu:"), std::string::npos) << e;
  EXPECT_NE(ErrorOf(e).find("body.pods: expected a whole number"), std::string::npos) << e;
  e = Expect(admin, 400, "POST", submit, {{"name", "x"}, {"gpus", 1}});
  EXPECT_NE(ErrorOf(e).find("unknown field \"gpus\"; did you mean \"gpu\"?"), std::string::npos)
      << e;
  e = Expect(admin, 400, "POST", submit, {{"gpu", 1}, kSleep});
  EXPECT_NE(ErrorOf(e).find("body.name: missing"), std::string::npos) << e;
  e = Expect(admin, 400, "POST", submit, {{"name", "../etc"}, {"gpu", 1}, kSleep});
  EXPECT_NE(ErrorOf(e).find("body.name"), std::string::npos) << e;
  e = Expect(admin, 400, "POST", submit, {{"name", "x"}, {"gpu", 1.5}, kSleep});
  EXPECT_NE(ErrorOf(e).find("whole number of GPUs"), std::string::npos) << e;
  e = Expect(admin, 400, "POST", submit, json::array({1, 2}));
  EXPECT_NE(ErrorOf(e).find("body: expected an object"), std::string::npos) << e;
  e = Expect(admin, 400, "POST", submit, {{"name", "x"}, {"pods", 2}, {"minAvailable", 3}});
  EXPECT_NE(ErrorOf(e).find("minAvailable"), std::string::npos) << e;
  e = Expect(admin, 400, "POST", submit, {{"name", "x"}, {"gpu", 1}});
  EXPECT_NE(ErrorOf(e).find("body.command: missing"), std::string::npos) << e;
  e = Expect(admin, 400, "POST", submit, {{"name", "x"}, {"command", "sleep 300"}});
  EXPECT_NE(ErrorOf(e).find("not split into words"), std::string::npos) << e;
  e = Expect(admin, 400, "PATCH", "/api/v1/projects/p", {{"gpu", {{"quota", 8}, {"limit", 4}}}});
  EXPECT_EQ(ErrorOf(e),
            "body.gpu.limit: must not be below the quota; raise the limit or lower the quota");
  e = Expect(admin, 404, "POST", "/api/v1/projects/nosuch/workloads", {{"name", "x"}});
  EXPECT_NE(ErrorOf(e).find("no project \"nosuch\""), std::string::npos) << e;
  e = Expect(admin, 400, "PATCH", "/api/v1/projects/p", {{"gpu", {{"quota", 4}, {"limit", 2}}}});
  EXPECT_NE(ErrorOf(e).find("must not be below the quota"), std::string::npos) << e;
  Expect(admin, 405, "PUT", "/api/v1/projects");
  Expect(admin, 404, "GET", "/api/v1/nothing");
  Expect(admin, 400, "GET", "/api/v1/events?limit=abc");

  // Oversized bodies are refused before they are read whole.
  std::string big = "{\"name\": \"x\", \"command\": [\"" + std::string(2 << 20, 'a') + "\"]}";
  r = admin.Call("POST", submit, big);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 413) << r->body;

  // Impossible but well-formed: accepted, and says why it can never run.
  json w = Expect(admin, 201, "POST", submit, {{"name", "nine"}, {"gpu", 9}, kSleep});
  ASSERT_EQ(w["warnings"].size(), 1u);
  EXPECT_NE(w["warnings"][0].get<std::string>().find("9 GPU devices"), std::string::npos);
  ASSERT_TRUE(Eventually([&] {
    json g = Expect(admin, 200, "GET", submit + "/nine");
    return g["status"]["reason"].get<std::string>().find("can never run") != std::string::npos;
  }));
  // Duplicate names are a conflict.
  Expect(admin, 409, "POST", submit, {{"name", "nine"}, {"gpu", 1}, kSleep});

  // Garbage on the wire.
  testing::CommandResult raw = testing::Run(
      "printf 'NOT HTTP AT ALL\\r\\n\\r\\n' | timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/" +
      std::to_string(server_->port()) + "; cat >&3; cat <&3'");
  EXPECT_NE(raw.out.find("400"), std::string::npos) << raw.out;
  Expect(admin, 200, "GET", "/healthz");
  Expect(admin, 200, "GET", "/api/v1/workloads");
}

TEST_F(ServerTest, ReclaimThroughTheServerWithEventsAndMetrics) {
  ApiClient admin = Admin();
  Expect(admin, 201, "POST", "/api/v1/projects", {{"name", "a"}, {"gpu", {{"quota", 4}}}});
  Expect(admin, 201, "POST", "/api/v1/projects", {{"name", "b"}, {"gpu", {{"quota", 4}}}});
  for (int i = 0; i < 8; ++i) {
    Expect(admin, 201, "POST", "/api/v1/projects/a/workloads",
           {{"name", "a" + std::to_string(i)}, {"gpu", 1}, kSleep});
  }
  ASSERT_TRUE(Eventually([&] {
    json l = Expect(admin, 200, "GET", "/api/v1/workloads?project=a");
    int running = 0;
    for (const json& w : l["items"]) running += w["status"]["phase"] == "Running";
    return running == 8;
  }));
  // Submitted while a's workloads run; it waits behind nothing of a's.
  Expect(admin, 201, "POST", "/api/v1/projects/a/workloads", {{"name", "mid"}, {"gpu", 1}, kSleep});
  // b is owed its quota: reclaim takes 4 GPUs back from a.
  Expect(admin, 201, "POST", "/api/v1/projects/b/workloads", {{"name", "b0"}, {"gpu", 4}, kSleep});
  ASSERT_TRUE(Eventually([&] {
    json w = Expect(admin, 200, "GET", "/api/v1/projects/b/workloads/b0");
    return w["status"]["phase"] == "Running";
  }));
  json events = Expect(admin, 200, "GET", "/api/v1/events?project=a&limit=100");
  int evicted = 0;
  for (const json& e : events["items"]) {
    if (e["kind"] == "Evicted") {
      ++evicted;
      EXPECT_NE(e["message"].get<std::string>().find("reclaim for b/b0"), std::string::npos) << e;
    }
  }
  EXPECT_EQ(evicted, 4);
  json a = Expect(admin, 200, "GET", "/api/v1/workloads?project=a");
  int pending = 0;
  std::set<std::string> evicted_names;
  for (const json& w : a["items"]) {
    if (w["status"]["phase"] == "Pending" && w["name"] != "mid") {
      ++pending;
      EXPECT_EQ(w["status"]["evictions"], 1);
      // Back in the queue from the eviction: requeued after it was submitted.
      ASSERT_TRUE(w["status"].contains("requeued")) << w;
      EXPECT_GT(w["status"]["requeued"].get<std::string>(), w["status"]["submitted"]) << w;
      evicted_names.insert(w["name"]);
    } else {
      EXPECT_FALSE(w["status"].contains("requeued")) << w;
    }
  }
  EXPECT_EQ(pending, 4);
  // The evicted workloads queue behind mid, which came while they ran, and
  // keep that place across a restart (requeued is stored).
  auto mid_is_first = [&](ApiClient client) {
    return Eventually([&] {
      json l = Expect(client, 200, "GET", "/api/v1/workloads?project=a");
      bool ok = true;
      for (const json& w : l["items"]) {
        const int pos = w["status"]["queuePosition"];
        if (w["name"] == "mid") ok = ok && pos == 1;
        if (evicted_names.count(w["name"]) != 0) ok = ok && pos >= 2;
      }
      return ok;
    });
  };
  EXPECT_TRUE(mid_is_first(admin));

  Result<HttpResult> m = admin.Call("GET", "/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->status, 200);
  for (const char* series :
       {"sluice_queue_gpu_fair_share{queue=\"b\",kind=\"project\"} 4",
        "sluice_queue_gpu_quota{queue=\"a\",kind=\"project\"} 4",
        "sluice_queue_gpu_allocated{queue=\"a\",kind=\"project\"} 4",
        "sluice_queue_pending_workloads{queue=\"a\",kind=\"project\"} 5",
        "sluice_gpu_allocated{node=\"sim-0\",gpu=\"0\",model=\"H100-80GB\"} 1",
        "sluice_scheduling_cycle_duration_seconds_bucket",
        "sluice_api_request_duration_seconds_count{method=\"POST\"}", "sluice_evictions_total 4"}) {
    EXPECT_NE(m->body.find(series), std::string::npos) << series << "\n" << m->body;
  }

  server_->Kill(SIGTERM);
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;
  EXPECT_TRUE(mid_is_first(Admin()));
}

TEST_F(ServerTest, WatchStreamsChanges) {
  ApiClient admin = Admin();
  Expect(admin, 201, "POST", "/api/v1/projects", {{"name", "p"}, {"gpu", {{"quota", 8}}}});
  std::mutex mu;
  std::vector<std::pair<std::string, json>> seen;
  std::thread watcher([&] {
    (void)admin.Stream("/api/v1/workloads?watch=true",
                       [&](const std::string& type, const std::string& data) {
                         std::lock_guard<std::mutex> lock(mu);
                         seen.emplace_back(type, json::parse(data));
                         return !(type == "DELETED");
                       });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Expect(admin, 201, "POST", "/api/v1/projects/p/workloads", {{"name", "w"}, {"gpu", 1}, kSleep});
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [type, w] : seen) {
      if (type == "MODIFIED" && w["status"]["phase"] == "Running") return true;
    }
    return false;
  }));
  Expect(admin, 202, "DELETE", "/api/v1/projects/p/workloads/w");
  watcher.join();
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(seen.front().first, "ADDED");
    EXPECT_EQ(seen.back().first, "DELETED");
  }

  // The CLI follows the same stream: `sluice list --watch`.
  Expect(admin, 201, "POST", "/api/v1/projects/p/workloads", {{"name", "old"}, {"gpu", 1}, kSleep});
  testing::CommandResult follow;
  std::thread cli([&] { follow = server_->Cli("list -p p --watch & sleep 2; kill $!"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  Expect(admin, 201, "POST", "/api/v1/projects/p/workloads", {{"name", "new"}, {"gpu", 1}, kSleep});
  cli.join();
  EXPECT_NE(follow.out.find("NAME"), std::string::npos) << follow.out;  // the table first
  EXPECT_NE(follow.out.find("ADDED p/new: Pending"), std::string::npos) << follow.out;
  EXPECT_NE(follow.out.find("MODIFIED p/new: Running"), std::string::npos) << follow.out;
  EXPECT_EQ(follow.out.find("ADDED p/old"), std::string::npos) << follow.out;
}

TEST_F(ServerTest, RestartKeepsEverythingAndAdoptsRunningWork) {
  ApiClient admin = Admin();
  Expect(admin, 201, "POST", "/api/v1/departments", {{"name", "d"}, {"gpu", {{"quota", 8}}}});
  Expect(
      admin, 201, "POST", "/api/v1/projects",
      {{"name", "p"}, {"department", "d"}, {"gpu", {{"quota", 8}}}, {"reclaimMinRuntime", "10m"}});
  Expect(admin, 201, "POST", "/api/v1/projects/p/workloads", {{"name", "run"}, {"gpu", 3}, kSleep});
  Expect(admin, 201, "POST", "/api/v1/projects/p/workloads",
         {{"name", "wait"}, {"gpu", 8}, kSleep});
  json before;
  ASSERT_TRUE(Eventually([&] {
    before = Expect(admin, 200, "GET", "/api/v1/projects/p/workloads/run");
    return before["status"]["phase"] == "Running";
  }));
  server_->Kill(SIGTERM);
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;
  EXPECT_EQ(server_->AdminToken(), admin_token_);  // not replaced
  ApiClient again = Admin();
  json after = Expect(again, 200, "GET", "/api/v1/projects/p/workloads/run");
  EXPECT_EQ(after["status"]["phase"], "Running");
  EXPECT_EQ(after["status"]["placement"], before["status"]["placement"]);
  EXPECT_EQ(after["status"]["started"], before["status"]["started"]);
  json p = Expect(again, 200, "GET", "/api/v1/projects/p");
  EXPECT_EQ(p["department"], "d");
  EXPECT_EQ(p["reclaimMinRuntime"], "10m");
  // New ids continue after the old ones.
  json w = Expect(again, 201, "POST", "/api/v1/projects/p/workloads",
                  {{"name", "next"}, {"gpu", 1}, kSleep});
  EXPECT_EQ(w["id"], 3);
}

TEST_F(ServerTest, KillNineLosesNoAcknowledgedSubmission) {
  ApiClient admin = Admin();
  Expect(admin, 201, "POST", "/api/v1/projects", {{"name", "p"}, {"gpu", {{"quota", 8}}}});
  constexpr int kClients = 4;
  std::mutex mu;
  std::set<std::string> acked;
  std::atomic<bool> stop{false};
  std::atomic<int> total{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      ApiClient client = server_->Http(admin_token_);
      for (int i = 0; !stop; ++i) {
        const std::string name = "c" + std::to_string(c) + "-" + std::to_string(i);
        Result<HttpResult> r = client.Call("POST", "/api/v1/projects/p/workloads",
                                           json{{"name", name}, {"gpu", 0.125}, kSleep}.dump());
        if (!r.ok()) return;  // the server is gone
        if (r->status == 201) {
          std::lock_guard<std::mutex> lock(mu);
          acked.insert(name);
          ++total;
        }
      }
    });
  }
  ASSERT_TRUE(Eventually([&] { return total.load() >= 1000; }));
  server_->Kill(SIGKILL);
  stop = true;
  for (auto& t : clients) t.join();
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;
  json list = Expect(Admin(), 200, "GET", "/api/v1/workloads?project=p");
  std::set<std::string> names;
  std::set<int64_t> ids;
  for (const json& w : list["items"]) {
    EXPECT_TRUE(names.insert(w["name"].get<std::string>()).second) << "duplicate " << w["name"];
    EXPECT_TRUE(ids.insert(w["id"].get<int64_t>()).second) << "duplicate id " << w["id"];
  }
  for (const std::string& name : acked) EXPECT_EQ(names.count(name), 1u) << name << " was lost";
  EXPECT_GE(names.size(), acked.size());
  RecordProperty("acknowledged", static_cast<int>(acked.size()));
  // The restarted server schedules what it found: 64 slots of 1/8 GPU.
  ASSERT_TRUE(Eventually([&] {
    json q = Expect(Admin(), 200, "GET", "/api/v1/queues");
    return q["items"][0]["allocatedGpu"] == 8;
  }));
}

}  // namespace
}  // namespace sluice
