// Scalar conversions between f32 and the 16-bit element types, written once and
// used by the core, the reference backend and the tests. Both narrowing
// conversions round to nearest, ties to even, and keep NaN a (quiet) NaN.
#ifndef MHA_KIT_DTYPE_H_
#define MHA_KIT_DTYPE_H_

#include <cstdint>
#include <cstring>

#include "mha/mha.h"

namespace mha {

inline uint32_t BitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float FloatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// bf16 is the upper half of an f32.
inline float BF16ToF32(uint16_t h) { return FloatOf(uint32_t{h} << 16); }

inline uint16_t F32ToBF16(float f) {
  const uint32_t u = BitsOf(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) {  // NaN: keep the sign, force quiet
    return static_cast<uint16_t>((u >> 16) | 0x0040u);
  }
  const uint32_t lsb = (u >> 16) & 1u;
  return static_cast<uint16_t>((u + 0x7fffu + lsb) >> 16);  // may round to Inf: right
}

// IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
inline float F16ToF32(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return FloatOf(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) return FloatOf(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa * 2^-24 is exact in f32.
  const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
  return FloatOf(sign | BitsOf(magnitude));
}

inline uint16_t F32ToF16(float f) {
  const uint32_t u = BitsOf(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u | static_cast<uint16_t>((abs >> 13) & 0x3ffu);
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: Inf
  if (abs < 0x38800000u) {
    // Below the smallest normal (2^-14): a subnormal or zero. Adding 0.5 (as f32)
    // makes the FPU round the low bits to nearest even at 2^-24 granularity.
    const float shifted = FloatOf(abs) + 0.5f;
    return sign | static_cast<uint16_t>(BitsOf(shifted) - BitsOf(0.5f));
  }
  // Normal: rebias the exponent (127 -> 15) and round 13 mantissa bits away.
  const uint32_t lsb = (abs >> 13) & 1u;
  const uint32_t rounded = abs + 0xfffu + lsb;
  return sign | static_cast<uint16_t>((rounded - (112u << 23)) >> 13);
}

// The integer a caller stored in an mha_dtype field, read without loading the enum:
// in C++ an out-of-range enum value is undefined, and callers may pass any int.
inline int DtypeValue(const mha_dtype& dtype) {
  int value;
  std::memcpy(&value, &dtype, sizeof value);
  return value;
}

// Whether a caller's dtype field holds one of the three dtypes.
inline bool IsDtype(const mha_dtype& dtype) {
  const int value = DtypeValue(dtype);
  return value == MHA_F32 || value == MHA_BF16 || value == MHA_F16;
}

inline int64_t DtypeSize(mha_dtype dtype) { return dtype == MHA_F32 ? 4 : 2; }

// Reads element `index` of a buffer of the given dtype as f32.
inline float LoadAsF32(const void* data, mha_dtype dtype, int64_t index) {
  switch (dtype) {
    case MHA_BF16: return BF16ToF32(static_cast<const uint16_t*>(data)[index]);
    case MHA_F16: return F16ToF32(static_cast<const uint16_t*>(data)[index]);
    default: return static_cast<const float*>(data)[index];
  }
}

// Writes f32 `value` into element `index` of a buffer of the given dtype (RNE).
inline void StoreFromF32(void* data, mha_dtype dtype, int64_t index, float value) {
  switch (dtype) {
    case MHA_BF16: static_cast<uint16_t*>(data)[index] = F32ToBF16(value); break;
    case MHA_F16: static_cast<uint16_t*>(data)[index] = F32ToF16(value); break;
    default: static_cast<float*>(data)[index] = value; break;
  }
}

}  // namespace mha

#endif  // MHA_KIT_DTYPE_H_
