// SLUICE_CHECK: crash loudly when an invariant the code relies on is broken.
//
// Checks stay on in every build type: a scheduler that silently over-commits a
// GPU is worse than one that stops. Recoverable errors use Status instead.
#ifndef SLUICE_COMMON_CHECK_H_
#define SLUICE_COMMON_CHECK_H_

namespace sluice::internal {
[[noreturn]] void CheckFailed(const char* expr, const char* file, int line);
}  // namespace sluice::internal

#define SLUICE_CHECK(cond)                                                   \
  do {                                                                       \
    if (!(cond)) ::sluice::internal::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (false)

#endif  // SLUICE_COMMON_CHECK_H_
