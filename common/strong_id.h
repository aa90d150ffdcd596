// StrongId<Tag>: a dense integer index with a type of its own.
//
// Nodes, queues and workloads live in vectors; their ids are positions in
// those vectors. A distinct type per kind keeps a NodeId from being passed
// where a QueueId is meant. An id is a plain value and thread-compatible.
#ifndef SLUICE_COMMON_STRONG_ID_H_
#define SLUICE_COMMON_STRONG_ID_H_

#include <compare>
#include <cstddef>
#include <cstdint>

namespace sluice {

template <typename Tag>
class StrongId {
 public:
  constexpr StrongId() = default;
  constexpr explicit StrongId(int32_t v) : v_(v) {}
  static constexpr StrongId Invalid() { return StrongId(); }

  constexpr bool valid() const { return v_ >= 0; }
  constexpr int32_t value() const { return v_; }
  constexpr size_t index() const { return static_cast<size_t>(v_); }
  constexpr auto operator<=>(const StrongId&) const = default;

 private:
  int32_t v_ = -1;
};

}  // namespace sluice

#endif  // SLUICE_COMMON_STRONG_ID_H_
