#include "row_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "mha/kit/dtype.h"
#include "mha/kit/tensor_view.h"

namespace mha {
namespace onednn {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Below this many elements a pass runs on the calling thread: waking a team costs
// more than it saves, and a lot more on noisy VMs.
constexpr int64_t kMinParallelElements = int64_t{1} << 16;

// The visible keys of chunk row r, relative to the chunk's first key.
KeyRange LocalRange(const Chunk& c, int64_t r) {
  const KeyRange& v = c.visible[r];
  KeyRange local{std::max(v.begin, c.key_begin) - c.key_begin,
                 std::min(v.end, c.key_begin + c.keys) - c.key_begin};
  if (local.empty()) local = KeyRange{0, 0};
  return local;
}

// Max as the reference takes it: NaN never wins (an all-NaN row gives NaN, below). Kept
// in independent lanes so that the compiler vectorizes it (maxps keeps that order).
float VisibleMax(const float* row, KeyRange keys) {
  constexpr int kLanes = 16;
  float lanes[kLanes];
  std::fill(lanes, lanes + kLanes, kNegInf);
  int64_t j = keys.begin;
  for (; j + kLanes <= keys.end; j += kLanes) {
    for (int k = 0; k < kLanes; ++k) lanes[k] = row[j + k] > lanes[k] ? row[j + k] : lanes[k];
  }
  float max = kNegInf;
  for (; j < keys.end; ++j) max = row[j] > max ? row[j] : max;
  for (int k = 0; k < kLanes; ++k) max = lanes[k] > max ? lanes[k] : max;
  // A row of NaN (and -inf) logits has no maximum, but is a NaN row, not a forbidden
  // one: NaN tells FinishRows so.
  if (max == kNegInf &&
      std::any_of(row + keys.begin, row + keys.end, [](float x) { return std::isnan(x); })) {
    return std::numeric_limits<float>::quiet_NaN();
  }
  return max;
}

}  // namespace

void PrepareRows(const mha_problem& p, const Chunk& c, bool mask, float* scores, float* row_max,
                 int num_threads) {
  const int64_t n = c.keys;
  const int64_t total = c.heads * c.rows;
#pragma omp parallel for num_threads(num_threads) \
    schedule(static) if (total * n >= kMinParallelElements)
  for (int64_t hr = 0; hr < total; ++hr) {
    const int64_t h = c.head_begin + hr / c.rows, r = hr % c.rows;
    float* row = scores + hr * c.stride;
    std::fill(row + n, row + c.stride, kNegInf);
    const KeyRange keys = LocalRange(c, r);
    if (mask) {
      std::fill(row, row + keys.begin, kNegInf);
      std::fill(row + keys.end, row + n, kNegInf);
      const int64_t i = c.row_begin + r;
      if (p.has_bias) {
        const float* bias = static_cast<const float*>(p.bias.data) +
                            RowOffset(p.bias, c.batch, h, i) + c.key_begin * p.bias.strides[3];
        const int64_t stride = p.bias.strides[3];
        for (int64_t j = keys.begin; j < keys.end; ++j) row[j] += bias[j * stride];
      }
      if (p.alibi_slopes) {
        const float slope = p.alibi_slopes[h];
        const int64_t first = c.key_begin - QueryPosition(p, c.batch, i);  // j - p(i) at 0
        for (int64_t j = keys.begin; j < keys.end; ++j) {
          row[j] += slope * static_cast<float>(first + j);
        }
      }
    }
    row_max[hr] = VisibleMax(row, keys);
  }
}

void FinishRows(const mha_problem& p, const Chunk& c, float* probs, const float* row_max,
                int num_threads) {
  const int64_t n = c.keys;
  const int64_t total = c.heads * c.rows;
#pragma omp parallel for num_threads(num_threads) \
    schedule(static) if (total * n >= kMinParallelElements)
  for (int64_t hr = 0; hr < total; ++hr) {
    const int64_t h = c.head_begin + hr / c.rows, r = hr % c.rows, i = c.row_begin + r;
    float* row = probs + hr * c.stride;
    const KeyRange keys = LocalRange(c, r);
    // No visible key, or only -inf logits: the softmax gave NaN; the row is zero.
    const bool forbidden = keys.empty() || row_max[hr] == kNegInf;
    if (forbidden) std::fill(row, row + c.stride, 0.0f);
    if (p.lse) {
      // At a row maximum the softmax gives exp(0) / sum, the largest probability, so
      // lse = max + log(sum) = max - log(largest probability).
      const float lse =
          forbidden ? kNegInf
                    : row_max[hr] - std::log(*std::max_element(row + keys.begin, row + keys.end));
      p.lse[(c.batch * p.num_heads + h) * p.q_len + i] = lse;
    }
    if (p.probs) {
      float* out = static_cast<float*>(p.probs->data) + RowOffset(*p.probs, c.batch, h, i);
      const int64_t stride = p.probs->strides[3];
      for (int64_t j = 0; j < p.kv_len; ++j) {
        const int64_t local = j - c.key_begin;
        out[j * stride] = local >= 0 && local < n ? row[local] : 0.0f;
      }
    }
  }
}

void WriteForbiddenChunk(const mha_problem& p, const Chunk& c) {
  for (int64_t r = 0; r < c.rows; ++r) {
    const int64_t i = c.row_begin + r;
    for (int64_t h = c.head_begin; h < c.head_begin + c.heads; ++h) {
      const int64_t out_row = RowOffset(p.out, c.batch, i, h);
      for (int64_t e = 0; e < p.v_head_dim; ++e) {
        mha::StoreFromF32(p.out.data, p.out.dtype, out_row + e, 0.0f);
      }
      if (p.lse) p.lse[(c.batch * p.num_heads + h) * p.q_len + i] = kNegInf;
      if (p.probs) {
        float* out = static_cast<float*>(p.probs->data) + RowOffset(*p.probs, c.batch, h, i);
        for (int64_t j = 0; j < p.kv_len; ++j) out[j * p.probs->strides[3]] = 0.0f;
      }
    }
  }
}

namespace {

// The largest magnitude's bits, so that one compare tells whether a row holds an Inf
// or NaN (exponent all ones); an unsigned max vectorizes.
template <typename Bits>
Bits MaxMagnitude(const Bits* in, int64_t n, Bits magnitude_mask) {
  Bits max = 0;
  for (int64_t i = 0; i < n; ++i) {
    const Bits m = static_cast<Bits>(in[i] & magnitude_mask);
    max = m > max ? m : max;
  }
  return max;
}

}  // namespace

bool RowFinite(const void* row, mha_dtype dtype, int64_t n) {
  if (dtype == MHA_F32) {
    return MaxMagnitude<uint32_t>(static_cast<const uint32_t*>(row), n, 0x7fffffffu) < 0x7f800000u;
  }
  const uint16_t inf = dtype == MHA_BF16 ? 0x7f80 : 0x7c00;
  return MaxMagnitude<uint16_t>(static_cast<const uint16_t*>(row), n, 0x7fff) < inf;
}

bool CopyBlock(const Block& src, int64_t rows, int64_t heads, int64_t dim, int64_t head_rows,
               void* dst, bool dst_bf16, int num_threads) {
  int64_t non_finite = 0;
#pragma omp parallel for num_threads(num_threads) schedule(static) \
    reduction(+ : non_finite) if (rows * heads * dim >= kMinParallelElements)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t from = r * src.row_stride + h * src.head_stride;
      const int64_t to = (h * head_rows + r) * dim;
      const size_t n = static_cast<size_t>(dim);
      if (src.dtype == MHA_F32) {
        const uint32_t* in = static_cast<const uint32_t*>(src.base) + from;
        std::memcpy(static_cast<float*>(dst) + to, in, n * sizeof(float));
        non_finite += MaxMagnitude<uint32_t>(in, dim, 0x7fffffffu) >= 0x7f800000u;
        continue;
      }
      const uint16_t* in = static_cast<const uint16_t*>(src.base) + from;
      const uint16_t inf = src.dtype == MHA_BF16 ? 0x7f80 : 0x7c00;
      non_finite += MaxMagnitude<uint16_t>(in, dim, 0x7fff) >= inf;
      if (dst_bf16) {
        std::memcpy(static_cast<uint16_t*>(dst) + to, in, n * sizeof(uint16_t));
      } else if (src.dtype == MHA_BF16) {
        float* out = static_cast<float*>(dst) + to;
        for (int64_t d = 0; d < dim; ++d) out[d] = BF16ToF32(in[d]);
      } else {
        float* out = static_cast<float*>(dst) + to;
        for (int64_t d = 0; d < dim; ++d) out[d] = LoadAsF32(src.base, src.dtype, from + d);
      }
    }
  }
  return non_finite == 0;
}

void StoreBlockFromF32(const float* src, int64_t rows, int64_t heads, int64_t dim, const Block& dst,
                       int num_threads) {
#pragma omp parallel for num_threads(num_threads) \
    schedule(static) if (rows * heads * dim >= kMinParallelElements)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t to = r * dst.row_stride + h * dst.head_stride;
      const float* from = src + (h * rows + r) * dim;
      if (dst.dtype == MHA_F32) {
        std::memcpy(static_cast<float*>(dst.base) + to, from, static_cast<size_t>(dim) * 4);
      } else if (dst.dtype == MHA_BF16) {
        uint16_t* out = static_cast<uint16_t*>(dst.base) + to;
        for (int64_t d = 0; d < dim; ++d) out[d] = F32ToBF16(from[d]);
      } else {
        for (int64_t d = 0; d < dim; ++d) mha::StoreFromF32(dst.base, dst.dtype, to + d, from[d]);
      }
    }
  }
}

void ConvertToBf16(const float* src, int64_t count, uint16_t* dst, int num_threads) {
#pragma omp parallel for num_threads(num_threads) \
    schedule(static) if (count >= kMinParallelElements)
  for (int64_t i = 0; i < count; ++i) dst[i] = F32ToBF16(src[i]);
}

}  // namespace onednn
}  // namespace mha
