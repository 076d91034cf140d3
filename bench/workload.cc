#include "workload.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace mha_bench {
namespace {

// Decode caches add up to at least this much, several times any LLC.
constexpr double kColdBytes = 512.0 * (1 << 20);
constexpr int kMaxLayers = 32;

}  // namespace

mha_tensor Bshd(void* data, mha_dtype dtype, int64_t batch, int64_t seq, int64_t heads,
                int64_t head_dim) {
  return mha_tensor{data, dtype, {batch, seq, heads, head_dim},
                    {seq * heads * head_dim, heads * head_dim, head_dim, 1}};
}

uint16_t Bf16FromF32(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  bits += 0x7FFF + ((bits >> 16) & 1);  // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

float ElementAsF32(const void* data, mha_dtype dtype, size_t i) {
  if (dtype == MHA_F32) return static_cast<const float*>(data)[i];
  const uint32_t bits = uint32_t{static_cast<const uint16_t*>(data)[i]} << 16;
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

void FillRandom(void* data, mha_dtype dtype, size_t n, uint64_t seed) {
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const float x = static_cast<float>(state >> 40) * (2.0f / 16777216.0f) - 1.0f;
    if (dtype == MHA_F32) {
      static_cast<float*>(data)[i] = x;
    } else {
      static_cast<uint16_t*>(data)[i] = Bf16FromF32(x);
    }
  }
}

const Workload& Workload::Get(const Shape& shape, const Precision& precision) {
  return LatestOf<Workload>(shape, precision);
}

Workload::Workload(const Shape& s, const Precision& p) {
  const size_t q_elems = s.batch * s.q_len * s.num_heads * s.head_dim;
  const size_t kv_elems = s.batch * s.kv_len * s.num_kv_heads * s.head_dim;
  const size_t kv_bytes = kv_elems * DtypeBytes(p.kv);
  const int layers =
      s.decode ? std::clamp(static_cast<int>(std::ceil(kColdBytes / (2.0 * kv_bytes))), 2,
                            kMaxLayers)
               : 1;

  Buffer q = AllocateTouched(q_elems * DtypeBytes(p.q));
  Buffer out = AllocateTouched(q_elems * DtypeBytes(p.out));
  Buffer k = AllocateTouched(kv_bytes * layers);
  Buffer v = AllocateTouched(kv_bytes * layers);
  FillRandom(q.get(), p.q, q_elems, 1);
  FillRandom(k.get(), p.kv, kv_elems * layers, 2);
  FillRandom(v.get(), p.kv, kv_elems * layers, 3);

  q_ = Bshd(q.get(), p.q, s.batch, s.q_len, s.num_heads, s.head_dim);
  out_ = Bshd(out.get(), p.out, s.batch, s.q_len, s.num_heads, s.head_dim);
  for (int layer = 0; layer < layers; ++layer) {
    k_.push_back(Bshd(k.get() + layer * kv_bytes, p.kv, s.batch, s.kv_len, s.num_kv_heads,
                      s.head_dim));
    v_.push_back(Bshd(v.get() + layer * kv_bytes, p.kv, s.batch, s.kv_len, s.num_kv_heads,
                      s.head_dim));
  }
  buffers_.push_back(std::move(q));
  buffers_.push_back(std::move(out));
  buffers_.push_back(std::move(k));
  buffers_.push_back(std::move(v));
}

}  // namespace mha_bench
