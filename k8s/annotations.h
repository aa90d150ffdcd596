// The names that sluice's Kubernetes components agree on: the API group of
// its custom resources, and the labels and annotations that the webhook,
// the scheduler, the reservation pods and the node agent write and read
// (docs/kubernetes.md). One list, so that the two sides of the contract
// cannot drift apart. Constants only.
#ifndef SLUICE_K8S_ANNOTATIONS_H_
#define SLUICE_K8S_ANNOTATIONS_H_

namespace sluice {

// The API group of sluice's custom resources and the annotations it reads
// and writes.
inline constexpr const char* kSchedulingGroup = "scheduling.sluice.dev";
inline constexpr const char* kQueueLabel = "sluice.dev/queue";
inline constexpr const char* kPodGroupAnnotation = "scheduling.sluice.dev/pod-group";
inline constexpr const char* kGpuFractionAnnotation = "sluice.dev/gpu-fraction";
inline constexpr const char* kGpuMemoryAnnotation = "sluice.dev/gpu-memory";
inline constexpr const char* kGpuDevicesAnnotation = "sluice.dev/gpu-devices";
inline constexpr const char* kGpuConfigMapAnnotation = "sluice.dev/gpu-configmap";
// Written by the scheduler at binding: the device indexes on the node and
// the milli-GPU held on each.
inline constexpr const char* kGpuPlacementAnnotation = "sluice.dev/gpu-placement";
inline constexpr const char* kGpuMilliAnnotation = "sluice.dev/gpu-milli";
inline constexpr const char* kBoundAtAnnotation = "sluice.dev/bound-at";
// A reservation pod's device (written by its container) and its index.
inline constexpr const char* kGpuUuidAnnotation = "sluice.dev/gpu-uuid";
inline constexpr const char* kReservationLabel = "sluice.dev/reservation";
inline constexpr const char* kReservationGpuLabel = "sluice.dev/reservation-gpu";
// What the node agent publishes on its Node: labels, then annotations (JSON).
inline constexpr const char* kGpuCountLabel = "sluice.dev/gpu-count";
inline constexpr const char* kGpuModelLabel = "sluice.dev/gpu-model";
inline constexpr const char* kGpuMemoryLabel = "sluice.dev/gpu-memory-mib";
inline constexpr const char* kGpuUuidsAnnotation = "sluice.dev/gpu-uuids";
inline constexpr const char* kMigLayoutAnnotation = "sluice.dev/mig-layout";

}  // namespace sluice

#endif  // SLUICE_K8S_ANNOTATIONS_H_
