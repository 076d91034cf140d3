#include "linear_rows.h"

#include <cmath>
#include <cstring>
#include <memory>

#include "mha/kit/dtype.h"
#include "mha/kit/linear_call.h"
#include "mha/kit/rope.h"

namespace mha {
namespace onednn {
namespace {

// Below this many elements a pass runs on the calling thread: starting a team would
// cost more than the pass (decode rows).
constexpr int64_t kMinParallelElements = int64_t{1} << 16;

// The per-element loops also in an AVX-512 clone (picked at load time): rounding to
// bf16 took 0.33 ns per element with the x86-64 baseline's SSE2 and 0.11 with AVX-512,
// to f16 1.35 and 0.24.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MHA_ONEDNN_CLONES __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define MHA_ONEDNN_CLONES
#endif

// RoPE angles of consecutive rows. RopeAngles (two double transcendentals per pair)
// runs for a row whose position does not follow the previous row's, and every
// kResyncRows rows; in between the previous angles advance by one position with the
// angle-addition formulas in double, whose error after kResyncRows steps (~1e-15) is
// far below the f32 rounding of cos and sin, at a fraction of the cost of RopeAngles
// for every row.
class RowAngles {
 public:
  static constexpr int kResyncRows = 16;

  RowAngles(const float* inv_freq, int64_t half)
      : inv_freq_(inv_freq), half_(half), cos_(half), sin_(half), step_cos_(half),
        step_sin_(half), cos32_(half), sin32_(half) {
    RopeAngles(inv_freq, half, 1, step_cos_.data(), step_sin_.data());
  }

  void MoveTo(int64_t position) {
    if (steps_ >= 0 && position == position_) return;
    if (steps_ >= 0 && steps_ < kResyncRows && position == position_ + 1) {
      for (int64_t i = 0; i < half_; ++i) {
        const double c = cos_[i], s = sin_[i];
        cos_[i] = c * step_cos_[i] - s * step_sin_[i];
        sin_[i] = s * step_cos_[i] + c * step_sin_[i];
      }
      ++steps_;
    } else {
      RopeAngles(inv_freq_, half_, position, cos_.data(), sin_.data());
      steps_ = 0;
    }
    position_ = position;
    for (int64_t i = 0; i < half_; ++i) {
      cos32_[i] = static_cast<float>(cos_[i]);
      sin32_[i] = static_cast<float>(sin_[i]);
    }
  }
  const float* cos() const { return cos32_.data(); }
  const float* sin() const { return sin32_.data(); }

 private:
  const float* inv_freq_;
  int64_t half_;
  std::vector<double> cos_, sin_, step_cos_, step_sin_;
  std::vector<float> cos32_, sin32_;
  int64_t position_ = 0;
  int steps_ = -1;  // rows since RopeAngles; -1: none yet
};

// One row of x as the matmul reads it: copied, widened (exact) or rounded to bf16.
MHA_ONEDNN_CLONES void ConvertRow(const void* from, mha_dtype dtype, int64_t count, void* to,
                                  bool to_bf16) {
  if (dtype != MHA_F16 && (dtype == MHA_BF16) == to_bf16) {
    std::memcpy(to, from, static_cast<size_t>(count * DtypeSize(dtype)));
    return;
  }
  if (to_bf16) {
    uint16_t* out = static_cast<uint16_t*>(to);
    if (dtype == MHA_F32) {
      const float* in = static_cast<const float*>(from);
      for (int64_t i = 0; i < count; ++i) out[i] = F32ToBF16(in[i]);
    } else {
      const uint16_t* in = static_cast<const uint16_t*>(from);
      for (int64_t i = 0; i < count; ++i) out[i] = F32ToBF16(F16ToF32(in[i]));
    }
    return;
  }
  float* out = static_cast<float*>(to);
  const uint16_t* in = static_cast<const uint16_t*>(from);
  if (dtype == MHA_BF16) {
    for (int64_t i = 0; i < count; ++i) out[i] = BF16ToF32(in[i]);
  } else {
    for (int64_t i = 0; i < count; ++i) out[i] = F16ToF32(in[i]);
  }
}

// RoPE on one row of the product (in place), then its heads into y, rounded to
// nearest even.
MHA_ONEDNN_CLONES void FinishRow(const mha_linear_call& c, int64_t b, int64_t s, int64_t n,
                                 const RowAngles* angles, float* values) {
  if (angles) {
    for (int64_t h0 = 0; h0 < n; h0 += c.head_dim) {
      RotateHead(c.rope, c.rope_dims, angles->cos(), angles->sin(), values + h0);
    }
  }
  for (int64_t h0 = 0; h0 < n; h0 += c.head_dim) {
    const float* from = values + h0;
    char* to = static_cast<char*>(c.y) + OutputOffset(c, b, s, h0) * DtypeSize(c.y_dtype);
    if (c.y_dtype == MHA_BF16) {
      uint16_t* out = reinterpret_cast<uint16_t*>(to);
      for (int64_t i = 0; i < c.head_dim; ++i) out[i] = F32ToBF16(from[i]);
    } else if (c.y_dtype == MHA_F16) {
      uint16_t* out = reinterpret_cast<uint16_t*>(to);
      for (int64_t i = 0; i < c.head_dim; ++i) out[i] = F32ToF16(from[i]);
    } else {
      std::memcpy(to, from, static_cast<size_t>(c.head_dim) * sizeof(float));
    }
  }
}

}  // namespace

DenseRows MapRows(const mha_linear_call& c) {
  DenseRows rows;
  rows.first.resize(static_cast<size_t>(c.batch));
  for (int64_t b = 0; b < c.batch; ++b) {
    rows.first[b] = rows.count;
    rows.count += LinearRows(c, b);
    rows.every_row = rows.every_row && LinearRows(c, b) == c.seq;
  }
  return rows;
}

bool PackedRows(const mha_linear_call& c, int64_t batch_stride, int64_t seq_stride,
                int64_t width) {
  return (c.seq == 1 || seq_stride == width) && (c.batch == 1 || batch_stride == c.seq * width);
}

void GatherInput(const mha_linear_call& c, const DenseRows& rows, int64_t k, bool to_bf16,
                 void* dst) {
  const int64_t from_size = DtypeSize(c.x_dtype), to_size = to_bf16 ? 2 : 4;
#pragma omp parallel for num_threads(c.num_threads) schedule(static) \
    if (rows.count * k >= kMinParallelElements)
  for (int64_t row = 0; row < c.batch * c.seq; ++row) {
    const int64_t b = row / c.seq, s = row % c.seq;
    if (s >= LinearRows(c, b)) continue;
    ConvertRow(static_cast<const char*>(c.x) + InputOffset(c, b, s) * from_size, c.x_dtype, k,
               static_cast<char*>(dst) + (rows.first[b] + s) * k * to_size, to_bf16);
  }
}

void StoreOutput(const mha_linear_call& c, const DenseRows& rows, int64_t n, float* product) {
  const int64_t half = c.rope != MHA_ROPE_NONE ? c.rope_dims / 2 : 0;
#pragma omp parallel num_threads(c.num_threads) if (rows.count * n >= kMinParallelElements)
  {
    std::unique_ptr<RowAngles> angles;
    if (half > 0) angles = std::make_unique<RowAngles>(c.rope_inv_freq, half);
    // Batch-major, so that a thread's rows are mostly consecutive positions.
#pragma omp for schedule(static)
    for (int64_t row = 0; row < c.batch * c.seq; ++row) {
      const int64_t b = row / c.seq, s = row % c.seq;
      if (s >= LinearRows(c, b)) continue;
      if (angles) angles->MoveTo(RopePosition(c, b, s));
      FinishRow(c, b, s, n, angles.get(), product + (rows.first[b] + s) * n);
    }
  }
}

}  // namespace onednn
}  // namespace mha
