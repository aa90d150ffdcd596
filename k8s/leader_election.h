// Leader election on a coordination.k8s.io/v1 Lease, so that of several
// scheduler replicas exactly one makes decisions and a standby takes over
// when the leader stops renewing.
//
// The lease is taken when it is absent, already ours, or expired (its
// renewTime plus leaseDurationSeconds is past); every write carries the
// resourceVersion that was read, so two candidates racing for an expired
// lease cannot both win: the API server refuses the second write with 409.
// A leader that cannot renew within the lease's duration stops leading
// before anyone else may start. Not thread-safe: one thread calls Tick().
#ifndef SLUICE_K8S_LEADER_ELECTION_H_
#define SLUICE_K8S_LEADER_ELECTION_H_

#include <functional>
#include <string>

#include "common/quantity.h"
#include "k8s/kube_client.h"

namespace sluice {

struct LeaseOptions {
  std::string ns = "sluice-system";
  std::string name = "sluice-scheduler";
  std::string identity;
  Duration duration{15'000};
};

class LeaderElector {
 public:
  LeaderElector(KubeClient* client, LeaseOptions options, std::function<Time()> now)
      : client_(client), opt_(std::move(options)), now_(std::move(now)) {}

  // Tries to take or renew the lease; returns whether this replica leads
  // now. Call at least every duration/3.
  bool Tick();
  bool leading() const { return leading_; }
  // Gives the lease up at once (on a clean shutdown), so a standby need
  // not wait for it to expire.
  void Release();
  // Who holds the lease as last read ("" when nobody), for logs.
  const std::string& holder() const { return holder_; }

 private:
  bool TryWrite(const nlohmann::json& lease, bool create);

  KubeClient* client_;
  LeaseOptions opt_;
  std::function<Time()> now_;
  bool leading_ = false;
  Time renewed_{};  // when this replica last renewed
  std::string holder_;
};

// MicroTime as the API writes it: 2026-12-02T10:00:00.000000Z.
std::string FormatMicroTime(Time t);

}  // namespace sluice

#endif  // SLUICE_K8S_LEADER_ELECTION_H_
