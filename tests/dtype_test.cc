// The f32 <-> bf16/f16 conversions: exact values, rounding ties, NaN, Inf, subnormals.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include <catch2/catch.hpp>

#include "mha/kit/dtype.h"

namespace mha {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST_CASE("bf16 round-trips and rounds to nearest even", "[dtype]") {
  CHECK(F32ToBF16(1.0f) == 0x3f80);
  CHECK(BF16ToF32(0x3f80) == 1.0f);
  CHECK(F32ToBF16(-2.0f) == 0xc000);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
  CHECK(F32ToBF16(1.0f + 0x1p-8f) == 0x3f80);
  // 1 + 3*2^-8 is halfway between 1+2^-7 (odd) and 1+2^-6 (even): rounds up.
  CHECK(F32ToBF16(1.0f + 3 * 0x1p-8f) == 0x3f82);
  CHECK(F32ToBF16(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81);  // above the tie: up
  CHECK(F32ToBF16(kInf) == 0x7f80);
  CHECK(F32ToBF16(-kInf) == 0xff80);
  CHECK(F32ToBF16(std::numeric_limits<float>::max()) == 0x7f80);  // overflows to Inf
  CHECK(F32ToBF16(0x1p-130f) == 0x0008);  // subnormals keep their top bits
  CHECK(BF16ToF32(0x0001) == 0x1p-133f);
  CHECK(F32ToBF16(-0.0f) == 0x8000);
}

TEST_CASE("bf16 keeps NaN a NaN, even one whose payload would round away", "[dtype]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(std::isnan(BF16ToF32(F32ToBF16(nan))));
  uint32_t low_payload_bits = 0x7f800001u;  // signalling NaN with only low bits set
  float snan;
  std::memcpy(&snan, &low_payload_bits, sizeof snan);
  CHECK(std::isnan(BF16ToF32(F32ToBF16(snan))));
  CHECK(std::isnan(BF16ToF32(F32ToBF16(-nan))));
}

TEST_CASE("f16 exact values, ties, overflow and subnormals", "[dtype]") {
  CHECK(F32ToF16(1.0f) == 0x3c00);
  CHECK(F16ToF32(0x3c00) == 1.0f);
  CHECK(F32ToF16(-2.5f) == 0xc100);
  CHECK(F32ToF16(65504.0f) == 0x7bff);  // largest finite
  CHECK(F32ToF16(65519.0f) == 0x7bff);  // below the tie: stays finite
  CHECK(F32ToF16(65520.0f) == 0x7c00);  // the tie rounds to even: Inf
  CHECK(F32ToF16(kInf) == 0x7c00);
  CHECK(F32ToF16(-kInf) == 0xfc00);
  CHECK(F16ToF32(0x7c00) == kInf);
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1).
  CHECK(F32ToF16(1.0f + 0x1p-11f) == 0x3c00);
  CHECK(F32ToF16(1.0f + 3 * 0x1p-11f) == 0x3c02);
  // Subnormals: the smallest is 2^-24; half of it ties to zero (even).
  CHECK(F32ToF16(0x1p-24f) == 0x0001);
  CHECK(F32ToF16(0x1p-25f) == 0x0000);
  CHECK(F32ToF16(3 * 0x1p-25f) == 0x0002);  // 1.5 ulp: tie to even (2)
  CHECK(F16ToF32(0x0001) == 0x1p-24f);
  CHECK(F16ToF32(0x03ff) == 1023 * 0x1p-24f);
  CHECK(F32ToF16(1023.5f * 0x1p-24f) == 0x0400);  // rounds up into the normals
  CHECK(F32ToF16(0x1p-14f) == 0x0400);            // smallest normal
  CHECK(F32ToF16(-0.0f) == 0x8000);
  CHECK(F32ToF16(1e-30f) == 0x0000);
}

TEST_CASE("f16 keeps NaN a NaN", "[dtype]") {
  CHECK(std::isnan(F16ToF32(F32ToF16(std::numeric_limits<float>::quiet_NaN()))));
  uint32_t low_payload_bits = 0x7f800001u;
  float snan;
  std::memcpy(&snan, &low_payload_bits, sizeof snan);
  CHECK(std::isnan(F16ToF32(F32ToF16(snan))));
  CHECK(std::isnan(F16ToF32(0x7e00)));
}

TEST_CASE("every f16 value round-trips through f32", "[dtype]") {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = F16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    INFO("f16 bits " << h);
    CHECK(F32ToF16(f) == h);
  }
}

TEST_CASE("every bf16 value round-trips through f32", "[dtype]") {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = BF16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    INFO("bf16 bits " << h);
    CHECK(F32ToBF16(f) == h);
  }
}

}  // namespace
}  // namespace mha
