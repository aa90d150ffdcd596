#include "k8s/leader_election.h"

#include <cstdio>

namespace sluice {

std::string FormatMicroTime(Time t) {
  // FormatTime gives milliseconds only when there are some; MicroTime
  // always has six decimals.
  const int64_t secs = t.ms / 1000 - (t.ms % 1000 < 0 ? 1 : 0);
  std::string whole = FormatTime(Time{secs * 1000});  // ...:SSZ
  const int64_t ms = t.ms - secs * 1000;
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%03lld000Z", static_cast<long long>(ms));
  whole.pop_back();  // the Z
  return whole + frac;
}

bool LeaderElector::TryWrite(const nlohmann::json& lease, bool create) {
  const std::string base = "/apis/coordination.k8s.io/v1/namespaces/" + opt_.ns + "/leases";
  Result<KubeResponse> r =
      create ? client_->Post(base, lease) : client_->Put(base + "/" + opt_.name, lease);
  return r.ok() && r->ok();
}

bool LeaderElector::Tick() {
  const Time now = now_();
  const std::string path =
      "/apis/coordination.k8s.io/v1/namespaces/" + opt_.ns + "/leases/" + opt_.name;
  Result<KubeResponse> got = client_->Get(path);
  auto lose_if_stale = [&] {
    // Not renewed within the duration: someone else may take it now.
    if (leading_ && now - renewed_ >= opt_.duration) leading_ = false;
    return leading_;
  };
  if (!got.ok() || (!got->ok() && got->status != 404)) return lose_if_stale();
  const int64_t duration_s = std::max<int64_t>(1, opt_.duration.ms / 1000);
  nlohmann::json spec = {{"holderIdentity", opt_.identity},
                         {"leaseDurationSeconds", duration_s},
                         {"renewTime", FormatMicroTime(now)}};
  if (got->status == 404) {
    spec["acquireTime"] = FormatMicroTime(now);
    spec["leaseTransitions"] = 0;
    nlohmann::json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                            {"kind", "Lease"},
                            {"metadata", {{"name", opt_.name}, {"namespace", opt_.ns}}},
                            {"spec", spec}};
    if (TryWrite(lease, /*create=*/true)) {
      leading_ = true;
      renewed_ = now;
      holder_ = opt_.identity;
      return true;
    }
    return lose_if_stale();
  }
  nlohmann::json lease = got->json;
  const nlohmann::json& old = lease.contains("spec") ? lease["spec"] : nlohmann::json::object();
  holder_ = old.value("holderIdentity", "");
  const bool ours = holder_ == opt_.identity;
  if (!ours && !holder_.empty()) {
    Result<Time> renew = ParseTime(old.value("renewTime", ""));
    const int64_t held_s = old.value("leaseDurationSeconds", duration_s);
    if (renew.ok() && now < *renew + Duration{held_s * 1000}) {
      leading_ = false;
      return false;  // someone else leads and renews in time
    }
  }
  spec["acquireTime"] =
      ours ? old.value("acquireTime", FormatMicroTime(now)) : FormatMicroTime(now);
  spec["leaseTransitions"] = old.value("leaseTransitions", 0) + (ours ? 0 : 1);
  lease["spec"] = spec;  // metadata keeps the resourceVersion that was read
  if (TryWrite(lease, /*create=*/false)) {
    leading_ = true;
    renewed_ = now;
    holder_ = opt_.identity;
    return true;
  }
  return lose_if_stale();
}

void LeaderElector::Release() {
  if (!leading_) return;
  leading_ = false;
  const std::string path =
      "/apis/coordination.k8s.io/v1/namespaces/" + opt_.ns + "/leases/" + opt_.name;
  Result<KubeResponse> got = client_->Get(path);
  if (!got.ok() || !got->ok()) return;
  nlohmann::json lease = got->json;
  if (lease["spec"].value("holderIdentity", "") != opt_.identity) return;
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["renewTime"] = FormatMicroTime(Time{0});
  TryWrite(lease, /*create=*/false);
}

}  // namespace sluice
