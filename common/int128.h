// A 128-bit integer for the few products of fixed-point quantities that can
// exceed 64 bits (amount x weight, cross-multiplied ratios). GCC and Clang
// provide it as an extension on every 64-bit target sluice supports.
#ifndef SLUICE_COMMON_INT128_H_
#define SLUICE_COMMON_INT128_H_

namespace sluice {
__extension__ typedef __int128 Int128;  // NOLINT(modernize-use-using)
}  // namespace sluice

#endif  // SLUICE_COMMON_INT128_H_
