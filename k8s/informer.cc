#include "k8s/informer.h"

#include <chrono>
#include <cstdio>

#include "k8s/kube_objects.h"

namespace sluice {

std::string InformerKey(const nlohmann::json& object) { return ObjectKey(object); }

Reflector::Reflector(KubeClient* client, std::string path, std::string selector, Handlers handlers)
    : client_(client),
      path_(std::move(path)),
      selector_(std::move(selector)),
      handlers_(std::move(handlers)) {}

Reflector::~Reflector() { Stop(); }

void Reflector::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void Reflector::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  // Ends this reflector's watch (and briefly every other one of the
  // client, which simply watch again from where they were).
  client_->CancelWatches();
  thread_.join();
}

std::string Reflector::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

void Reflector::SleepFor(int ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_.load(); });
}

bool Reflector::List(std::string* resource_version) {
  std::vector<nlohmann::json> items;
  std::string cont;
  do {
    std::string target = path_ + "?limit=500";
    if (!selector_.empty()) target += "&" + selector_;
    if (!cont.empty()) target += "&continue=" + QueryEscape(cont);
    Result<KubeResponse> got = client_->Get(target);
    std::string error;
    if (!got.ok()) {
      error = got.status().message();
    } else if (!got->ok() || !got->json.is_object()) {
      error = "list " + path_ + ": " + got->Message();
    }
    if (!error.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      last_error_ = error;
      return false;
    }
    KubeResponse r = std::move(got).value();
    const nlohmann::json& meta = r.json["metadata"];
    cont = meta.value("continue", "");
    *resource_version = meta.value("resourceVersion", "");
    if (r.json.contains("items") && r.json["items"].is_array()) {
      for (nlohmann::json& item : r.json["items"]) items.push_back(std::move(item));
    }
  } while (!cont.empty());
  handlers_.replace(std::move(items));
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_error_.clear();
  }
  synced_ = true;
  return true;
}

void Reflector::Run() {
  int backoff_ms = 100;
  while (!stop_) {
    std::string rv;
    if (!List(&rv)) {
      SleepFor(backoff_ms);
      backoff_ms = std::min(backoff_ms * 2, 5000);
      continue;
    }
    backoff_ms = 100;
    // Watch until the version is gone or the stream fails; a stream that
    // the server ends on its timeout is simply watched again.
    while (!stop_) {
      std::string target =
          path_ + "?watch=true&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=" +
          QueryEscape(rv);
      if (!selector_.empty()) target += "&" + selector_;
      bool gone = false;
      Result<KubeResponse> r = client_->Watch(target, [&](const WatchEvent& e) {
        if (stop_) return false;
        if (e.type == "ERROR") {
          gone = e.object.value("code", 0) == 410;
          return false;
        }
        if (e.object.is_object() && e.object.contains("metadata")) {
          rv = e.object["metadata"].value("resourceVersion", rv);
        }
        if (e.type != "BOOKMARK") handlers_.apply(e);
        return true;
      });
      if (!r.ok()) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          last_error_ = r.status().message();
        }
        SleepFor(backoff_ms);
        backoff_ms = std::min(backoff_ms * 2, 5000);
        // A connection that failed may have missed events: keep the
        // version, the watch resumes from it.
        continue;
      }
      if (r->status == 410) gone = true;
      if (gone) break;
      if (r->status != 200) {
        SleepFor(backoff_ms);
        backoff_ms = std::min(backoff_ms * 2, 5000);
        break;
      }
      backoff_ms = 100;
    }
  }
}

}  // namespace sluice
