// Informers: a local copy of one kind of Kubernetes object, kept current by
// listing it and then watching for changes, the way client-go's informers
// do.
//
// An Informer<T> runs its list-and-watch loop on a thread of its own. It
// lists in pages, watches from the list's resourceVersion with bookmarks,
// lists again when the watch says the version is gone (410) and retries
// with a backoff when the API server cannot be reached. Objects are kept
// decoded (T, from a decode function) by "namespace/name". `on_change` is
// called on the informer's thread after each change. Read() and synced()
// are thread-safe.
#ifndef SLUICE_K8S_INFORMER_H_
#define SLUICE_K8S_INFORMER_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "k8s/kube_client.h"

namespace sluice {

// The type-independent list-and-watch loop.
class Reflector {
 public:
  struct Handlers {
    // The whole collection, after each (re)list.
    std::function<void(std::vector<nlohmann::json> items)> replace;
    std::function<void(const WatchEvent& e)> apply;
  };
  // `path` is the collection ("/api/v1/pods"); `selector` extra query
  // parameters ("fieldSelector=..."), or empty.
  Reflector(KubeClient* client, std::string path, std::string selector, Handlers handlers);
  ~Reflector();
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  void Start();
  void Stop();
  bool synced() const { return synced_.load(); }
  // The last error, for logs and readiness; empty when the last list worked.
  std::string last_error() const;

 private:
  void Run();
  bool List(std::string* resource_version);
  void SleepFor(int ms);

  KubeClient* client_;
  std::string path_;
  std::string selector_;
  Handlers handlers_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> synced_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string last_error_;  // guarded by mu_
};

template <class T>
class Informer {
 public:
  using Decode = std::function<std::optional<T>(const nlohmann::json&)>;
  Informer(KubeClient* client, std::string path, std::string selector, Decode decode,
           std::function<void()> on_change)
      : decode_(std::move(decode)),
        on_change_(std::move(on_change)),
        reflector_(client, std::move(path), std::move(selector),
                   {[this](std::vector<nlohmann::json> items) { Replace(std::move(items)); },
                    [this](const WatchEvent& e) { Apply(e); }}) {}

  void Start() { reflector_.Start(); }
  void Stop() { reflector_.Stop(); }
  bool synced() const { return reflector_.synced(); }
  std::string last_error() const { return reflector_.last_error(); }

  // Calls f(const std::map<std::string, T>&) under the informer's lock.
  template <class F>
  auto Read(F&& f) const {
    std::lock_guard<std::mutex> lock(mu_);
    return f(items_);
  }

 private:
  void Replace(std::vector<nlohmann::json> items) {
    std::map<std::string, T> fresh;
    for (const nlohmann::json& j : items) {
      if (std::optional<T> t = decode_(j)) fresh.emplace(ObjectKeyOf(j), std::move(*t));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      items_.swap(fresh);
    }
    if (on_change_) on_change_();
  }
  void Apply(const WatchEvent& e) {
    const std::string key = ObjectKeyOf(e.object);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (e.type == "DELETED") {
        items_.erase(key);
      } else if (std::optional<T> t = decode_(e.object)) {
        items_.insert_or_assign(key, std::move(*t));
      }
    }
    if (on_change_) on_change_();
  }
  static std::string ObjectKeyOf(const nlohmann::json& j);

  Decode decode_;
  std::function<void()> on_change_;
  mutable std::mutex mu_;
  std::map<std::string, T> items_;  // guarded by mu_
  Reflector reflector_;             // last: its thread uses the members above
};

std::string InformerKey(const nlohmann::json& object);

template <class T>
std::string Informer<T>::ObjectKeyOf(const nlohmann::json& j) {
  return InformerKey(j);
}

}  // namespace sluice

#endif  // SLUICE_K8S_INFORMER_H_
