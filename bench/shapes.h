// The benchmark shapes of docs/shapes.md and the work each one does.
#ifndef MHA_BENCH_SHAPES_H_
#define MHA_BENCH_SHAPES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mha/mha.h"

namespace mha_bench {

struct Shape {
  const char* id;
  int64_t batch, num_heads, num_kv_heads, q_len, kv_len, head_dim;
  bool causal;
  bool decode;  // K/V bound: measured over many caches, reported in GB/s
};

// The standard shapes (docs/shapes.md), in report order.
const std::vector<Shape>& StandardShapes();

// Small shapes for --quick and CI: the same kinds of work at a fraction of the size.
const std::vector<Shape>& QuickShapes();

// Both shape sets as JSON, {"standard": [...], "quick": [...]}, for the Python tools.
std::string ShapesJson();

// Query/key pairs that the mask lets through, per (batch, head): Lq*Lk, or for causal
// with bottom-right alignment, sum over i of min(Lk, max(0, i + Lk - Lq + 1)).
int64_t VisiblePairs(const Shape& shape);

// FLOPs of one call: 4 * B * Hq * D * visible pairs (two matmuls, 2 FLOPs per FMA).
double Flops(const Shape& shape);

// The element types of one benchmark: Q, K/V and O.
struct Precision {
  const char* id;
  mha_dtype q, kv, out;
};

// f32; bf16 Q/K/V/O; f32 Q/O over a bf16 K/V cache.
const std::vector<Precision>& Precisions();

size_t DtypeBytes(mha_dtype dtype);

// Bytes of K and V that one call reads.
double KvBytes(const Shape& shape, const Precision& precision);

// The T of (shape, precision), built on first use as T(shape, precision, args...).
// Only the most recent one is kept (the previous one is freed before the next is
// built): each holds large buffers, and benchmarks run grouped by shape and
// precision.
template <typename T, typename... Args>
const T& LatestOf(const Shape& shape, const Precision& precision, const Args&... args) {
  static std::unique_ptr<T> current;
  static std::string current_key;
  const std::string key = std::string(shape.id) + "/" + precision.id;
  if (!current || key != current_key) {
    current.reset();
    current = std::make_unique<T>(shape, precision, args...);
    current_key = key;
  }
  return *current;
}

}  // namespace mha_bench

#endif  // MHA_BENCH_SHAPES_H_
