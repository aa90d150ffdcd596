#include "exec/mig_partitioner.h"

#include <algorithm>

namespace sluice {

Result<std::vector<MigGpuInstance>> MigPartitioner::Layout(int32_t gpu) {
  return nvml_->MigLayout(gpu);
}

Result<std::string> MigPartitioner::Uuid(int32_t gpu, const MigPlacement& p) {
  Result<std::vector<MigGpuInstance>> layout = nvml_->MigLayout(gpu);
  if (!layout.ok()) return layout.status();
  for (const MigGpuInstance& i : *layout) {
    if (i.placement == p && !i.uuid.empty()) return i.uuid;
  }
  return Status::NotFound("GPU " + std::to_string(gpu) + " has no MIG device " +
                          FormatMigPlacement(p));
}

Status MigPartitioner::Apply(const MigChange& change, bool busy) {
  const std::string device = "GPU " + std::to_string(change.gpu);
  if (busy) {
    return Status::FailedPrecondition(device + " runs work; a device is repartitioned only idle");
  }
  Result<GpuSample> sample = nvml_->Sample(change.gpu);
  if (!sample.ok()) return sample.status();
  if (!sample->processes.empty()) {
    return Status::FailedPrecondition(
        device + " has " + std::to_string(sample->processes.size()) + " process(es) running (pid " +
        std::to_string(sample->processes[0].pid) + "); a device is repartitioned only idle");
  }
  Result<std::vector<MigGpuInstance>> layout = nvml_->MigLayout(change.gpu);
  if (!layout.ok()) return layout.status();
  for (const MigPlacement& d : change.destroy) {
    const bool there = std::any_of(layout->begin(), layout->end(),
                                   [&](const MigGpuInstance& i) { return i.placement == d; });
    if (!there) {
      return Status::FailedPrecondition(device + " has no instance " + FormatMigPlacement(d) +
                                        " to destroy; its layout changed under the scheduler");
    }
  }
  for (const MigPlacement& d : change.destroy) {
    if (Status s = nvml_->DestroyMigInstance(change.gpu, d.start); !s.ok()) return s;
  }
  const MigModel* model = nullptr;
  std::vector<MigPlacement> created;
  Status failed = Status::OK();
  for (const MigPlacement& c : change.create) {
    for (const MigModel& m : MigModels()) {
      if (m.Find(c.profile) != nullptr && model == nullptr) model = &m;
    }
    const MigProfile* profile = model == nullptr ? nullptr : model->Find(c.profile);
    if (profile == nullptr) {
      failed = Status::InvalidArgument("unknown MIG profile in " + FormatMigPlacement(c));
      break;
    }
    failed = nvml_->CreateMigInstance(change.gpu, *profile, c.start);
    if (!failed.ok()) break;
    created.push_back(c);
  }
  if (failed.ok()) return failed;
  // Nothing half-done: what this change created goes again.
  for (auto it = created.rbegin(); it != created.rend(); ++it) {
    (void)nvml_->DestroyMigInstance(change.gpu, it->start);
  }
  return failed;
}

}  // namespace sluice
