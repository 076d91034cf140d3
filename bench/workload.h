// The tensors of one benchmark: Q and O, and for decode shapes as many distinct K/V
// caches (layers) as it takes to overflow the last-level cache, so that every call
// streams its K/V from memory as it would in a real model.
#ifndef MHA_BENCH_WORKLOAD_H_
#define MHA_BENCH_WORKLOAD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "memory.h"
#include "mha/mha.h"
#include "shapes.h"

namespace mha_bench {

// f to bf16, rounded to nearest even.
uint16_t Bf16FromF32(float f);

// Element i of an f32 or bf16 buffer, as f32.
float ElementAsF32(const void* data, mha_dtype dtype, size_t i);

// A contiguous BSHD tensor [batch, seq, heads, head_dim] over data.
mha_tensor Bshd(void* data, mha_dtype dtype, int64_t batch, int64_t seq, int64_t heads,
                int64_t head_dim);

// Fills n elements of dtype with uniform values in [-1, 1) from a fixed-seed generator
// (16-bit dtypes rounded to nearest even).
void FillRandom(void* data, mha_dtype dtype, size_t n, uint64_t seed);

class Workload {
 public:
  // The workload of (shape, precision), built on first use. Only the most recent one
  // is kept, so register benchmarks grouped by shape and precision.
  static const Workload& Get(const Shape& shape, const Precision& precision);

  Workload(const Shape& shape, const Precision& precision);

  int layers() const { return static_cast<int>(k_.size()); }
  const mha_tensor& q() const { return q_; }
  mha_tensor* out() const { return &out_; }
  const mha_tensor& k(int layer) const { return k_[layer]; }
  const mha_tensor& v(int layer) const { return v_[layer]; }

 private:
  std::vector<Buffer> buffers_;
  mha_tensor q_;
  mutable mha_tensor out_;
  std::vector<mha_tensor> k_, v_;
};

}  // namespace mha_bench

#endif  // MHA_BENCH_WORKLOAD_H_
