#include "flash_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "mha/kit/dtype.h"
#include "mha/kit/tensor_view.h"

namespace mha {

ItemCoords DecodeItem(const FlashPlan& plan, int64_t item) {
  const mha_problem& p = *plan.p;
  ItemCoords c;
  c.split = item % plan.num_splits;
  const int64_t rest = item / plan.num_splits;
  const int64_t qb = rest % plan.num_q_blocks;
  c.g = rest / plan.num_q_blocks % plan.kv_head_blocks * plan.item_kv_heads;
  c.b = rest / plan.num_q_blocks / plan.kv_head_blocks;
  c.i0 = qb * plan.q_block;
  c.num_q = std::min(plan.q_block, p.q_len - c.i0);
  c.rows = (plan.item_kv_heads - 1) * plan.head_rows + c.num_q * plan.group;
  return c;
}

KeyRange SetupRows(const FlashPlan& plan, const ItemCoords& c, const FlashScratch& s) {
  const mha_problem& p = *plan.p;
  const int64_t split_begin = c.split * plan.split_len;
  const int64_t split_end = std::min(p.kv_len, split_begin + plan.split_len);
  KeyRange all{std::numeric_limits<int64_t>::max(), 0};
  for (int64_t r = 0; r < plan.rows_pad; ++r) {
    s.pos[r] = 0;
    s.slope[r] = 0.0f;
    s.begin[r] = 0;
    s.end[r] = 0;
    s.bias_offset[r] = 0;
    if (r >= c.rows) continue;
    const auto [i, h, real] = RowOf(plan, c, r);
    if (!real) continue;
    KeyRange keys = VisibleKeys(p, c.b, i);
    keys.begin = std::max(keys.begin, split_begin);
    keys.end = std::min(keys.end, split_end);
    s.pos[r] = static_cast<int32_t>(QueryPosition(p, c.b, i));
    if (p.alibi_slopes) s.slope[r] = p.alibi_slopes[h];
    if (p.has_bias) s.bias_offset[r] = RowOffset(p.bias, c.b, h, i);
    if (keys.empty()) continue;
    s.begin[r] = static_cast<int32_t>(keys.begin);
    s.end[r] = static_cast<int32_t>(keys.end);
    all.begin = std::min(all.begin, keys.begin);
    all.end = std::max(all.end, keys.end);
  }
  if (all.empty()) all = KeyRange{0, 0};
  return all;
}

bool MarkActiveRows(const FlashPlan& plan, const FlashScratch& s, int64_t j0, int64_t nk) {
  bool any = false;
  for (int64_t r = 0; r < plan.rows_pad; ++r) {
    const int64_t first = std::max<int64_t>(s.begin[r], j0);
    const int64_t last = std::min<int64_t>(s.end[r], j0 + nk);
    s.active[r] = first < last;
    any = any || s.active[r];
  }
  return any;
}

bool AllRowsSeeTile(const FlashPlan& plan, const ItemCoords& c, const FlashScratch& s,
                    int64_t j0, int64_t nk) {
  for (int64_t r = 0; r < c.rows; ++r) {
    if (RowOf(plan, c, r).real && (s.begin[r] > j0 || s.end[r] < j0 + nk)) return false;
  }
  return true;
}

namespace {

// dst[d * dst_stride] = scale * to_f32(q[d]) for d < dim; with dst_stride 1 the
// compiler vectorizes it (f32 and bf16).
template <typename T, typename ToF32>
void ScaleRow(const T* __restrict q, ToF32 to_f32, float scale, int64_t dim,
              float* __restrict dst, int64_t dst_stride) {
  if (dst_stride == 1) {
    for (int64_t d = 0; d < dim; ++d) dst[d] = scale * to_f32(q[d]);
  } else {
    for (int64_t d = 0; d < dim; ++d) dst[d * dst_stride] = scale * to_f32(q[d]);
  }
}

}  // namespace

// The dtype is tested once per row, not per element: a per-element switch is
// measurably slower.
void ScaledQRow(const mha_problem& p, int64_t offset, float* dst, int64_t dst_stride) {
  const float scale = p.scale * kLog2e;
  const void* q = p.q.data;
  switch (p.q.dtype) {
    case MHA_F32:
      return ScaleRow(static_cast<const float*>(q) + offset, [](float x) { return x; }, scale,
                      p.head_dim, dst, dst_stride);
    case MHA_BF16:
      return ScaleRow(static_cast<const uint16_t*>(q) + offset, BF16ToF32, scale, p.head_dim,
                      dst, dst_stride);
    default:
      return ScaleRow(static_cast<const uint16_t*>(q) + offset, F16ToF32, scale, p.head_dim,
                      dst, dst_stride);
  }
}

void PackQRows(const FlashPlan& plan, const ItemCoords& c, float* q) {
  const mha_problem& p = *plan.p;
  std::memset(q, 0, sizeof(float) * p.head_dim * plan.rows_pad);
  for (int64_t r = 0; r < c.rows; ++r) {
    const auto [i, h, real] = RowOf(plan, c, r);
    if (real) ScaledQRow(p, RowOffset(p.q, c.b, i, h), q + r * p.head_dim, 1);
  }
}

void PackQRowsBf16(const FlashPlan& plan, const ItemCoords& c, uint16_t* q, int64_t q_stride) {
  const mha_problem& p = *plan.p;
  std::memset(q, 0, sizeof(uint16_t) * q_stride * plan.rows_pad);
  for (int64_t r = 0; r < c.rows; ++r) {
    const auto [i, h, real] = RowOf(plan, c, r);
    if (!real) continue;
    const uint16_t* src = static_cast<const uint16_t*>(p.q.data) + RowOffset(p.q, c.b, i, h);
    std::memcpy(q + r * q_stride, src, sizeof(uint16_t) * p.head_dim);
  }
}

void PackQPairs(const FlashPlan& plan, const ItemCoords& c, uint32_t* qt) {
  const mha_problem& p = *plan.p;
  const int64_t rp = plan.rows_pad;
  const int64_t pairs = p.head_dim / 2;
  std::memset(qt, 0, sizeof(uint32_t) * pairs * rp);
  for (int64_t r = 0; r < c.rows; ++r) {
    const auto [i, h, real] = RowOf(plan, c, r);
    if (!real) continue;
    const uint16_t* q = static_cast<const uint16_t*>(p.q.data) + RowOffset(p.q, c.b, i, h);
    for (int64_t t = 0; t < pairs; ++t) {
      qt[t * rp + r] = uint32_t{q[2 * t]} | uint32_t{q[2 * t + 1]} << 16;
    }
  }
}

void StoreOutputRow(const mha_problem& p, int64_t offset, const float* o, float scale) {
  if (p.out.dtype == MHA_F32) {
    float* out = static_cast<float*>(p.out.data) + offset;
    for (int64_t e = 0; e < p.v_head_dim; ++e) out[e] = o[e] * scale;
  } else {
    for (int64_t e = 0; e < p.v_head_dim; ++e) {
      StoreFromF32(p.out.data, p.out.dtype, offset + e, o[e] * scale);
    }
  }
}

void WriteOutput(const FlashPlan& plan, const ItemCoords& c, const FlashScratch& s) {
  const mha_problem& p = *plan.p;
  for (int64_t r = 0; r < c.rows; ++r) {
    const auto [i, h, real] = RowOf(plan, c, r);
    if (!real) continue;
    const bool seen = s.l[r] > 0.0f;
    StoreOutputRow(p, RowOffset(p.out, c.b, i, h), s.o + r * plan.dv_pad,
                   seen ? 1.0f / s.l[r] : 0.0f);
    if (p.lse) {
      p.lse[(c.b * p.num_heads + h) * p.q_len + i] =
          seen ? (s.m[r] + std::log2(s.l[r])) * kLn2 : -std::numeric_limits<float>::infinity();
    }
  }
}

void WritePartials(const FlashPlan& plan, int64_t item, const ItemCoords& c,
                   const FlashScratch& s) {
  const mha_problem& p = *plan.p;
  for (int64_t r = 0; r < c.rows; ++r) {
    float* part = plan.partials + (item * plan.rows_pad + r) * plan.partial_stride;
    part[0] = s.m[r];
    part[1] = s.l[r];
    std::memcpy(part + 2, s.o + r * plan.dv_pad, sizeof(float) * p.v_head_dim);
  }
}

namespace {

// Asks for the bytes [offset, offset + bytes) of t's data (offset in elements),
// for writing or for reading.
void PrefetchBytes(const mha_tensor& t, int64_t offset, int64_t bytes, bool for_write) {
  const char* p = static_cast<const char*>(t.data) + offset * DtypeSize(t.dtype);
  for (int64_t b = 0; b < bytes; b += 64) {
    if (for_write) {
      __builtin_prefetch(p + b, 1, 3);
    } else {
      __builtin_prefetch(p + b, 0, 3);
    }
  }
}

}  // namespace

void PrefetchEdgeRows(const FlashPlan& plan, const ItemCoords& c, const ItemCoords* next,
                      int64_t t, int64_t num_tiles) {
  const mha_problem& p = *plan.p;
  const int64_t out_bytes = p.v_head_dim * DtypeSize(p.out.dtype);
  for (int64_t r = c.rows * t / num_tiles; r < c.rows * (t + 1) / num_tiles; ++r) {
    const auto [i, h, real] = RowOf(plan, c, r);
    if (real) PrefetchBytes(p.out, RowOffset(p.out, c.b, i, h), out_bytes, true);
  }
  if (!next) return;
  const int64_t q_bytes = p.head_dim * DtypeSize(p.q.dtype);
  for (int64_t r = next->rows * t / num_tiles; r < next->rows * (t + 1) / num_tiles; ++r) {
    const auto [i, h, real] = RowOf(plan, *next, r);
    if (real) PrefetchBytes(p.q, RowOffset(p.q, next->b, i, h), q_bytes, false);
  }
}

void WriteProbsTile(const FlashPlan& plan, const ItemCoords& c, const FlashScratch& s,
                    int64_t j0, int64_t nk) {
  const mha_problem& p = *plan.p;
  const mha_tensor& probs = *p.probs;
  for (int64_t r = 0; r < c.rows; ++r) {
    const auto [i, h, real] = RowOf(plan, c, r);
    if (!real) continue;
    float* row = static_cast<float*>(probs.data) + RowOffset(probs, c.b, h, i);
    const bool live = s.active[r] && s.l[r] > 0.0f;
    const float inv = live ? 1.0f / s.l[r] : 0.0f;
    for (int64_t jj = 0; jj < nk; ++jj) {
      const float logit = s.st[jj * plan.rows_pad + r];
      row[(j0 + jj) * probs.strides[3]] = live ? std::exp2(logit - s.m[r]) * inv : 0.0f;
    }
  }
}

}  // namespace mha
