// Rows transposed 4 at a time, for Q packed for QkTile (qt[d * rows_pad + r] =
// scale * kLog2e * Q[row r][d] as f32, padding rows zero) and for the bias tile
// of ScoreChunk. Blocks of 4 whole rows run as 4x4 transposes of 128-bit vectors
// (4 loads, 8 shuffles, 4 stores per 16 elements) rather than storing each element
// alone.
#if defined(MHA_BACKENDS_HIGHWAY_FLASH_PACK_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_BACKENDS_HIGHWAY_FLASH_PACK_INL_H_
#undef MHA_BACKENDS_HIGHWAY_FLASH_PACK_INL_H_
#else
#define MHA_BACKENDS_HIGHWAY_FLASH_PACK_INL_H_
#endif

#include <cstdint>

#include "flash_convert-inl.h"
#include "flash_plan.h"
#include "flash_rows.h"
#include "hwy/highway.h"
#include "mha/kit/tensor_view.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr int64_t kPackRows = 4;

// dst[d * dst_stride + k] = scale * row[k][d] for k < 4 and d < dim.
template <typename T>
HWY_INLINE void TransposeRowsOf4(const T* const* row, float scale, int64_t dim, float* dst,
                                 int64_t dst_stride) {
  int64_t d = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::Full128<float> d4;
  const hn::Repartition<double, decltype(d4)> d64;
  const auto s = hn::Set(d4, scale);
  for (; d + 4 <= dim; d += 4) {
    const auto a = hn::Mul(LoadF32(d4, row[0] + d), s);
    const auto b = hn::Mul(LoadF32(d4, row[1] + d), s);
    const auto c = hn::Mul(LoadF32(d4, row[2] + d), s);
    const auto e = hn::Mul(LoadF32(d4, row[3] + d), s);
    // [a0 b0 a1 b1], [a2 b2 a3 b3] and the same for c, e; then pairs of pairs.
    const auto ab_lo = hn::BitCast(d64, hn::InterleaveLower(d4, a, b));
    const auto ab_hi = hn::BitCast(d64, hn::InterleaveUpper(d4, a, b));
    const auto ce_lo = hn::BitCast(d64, hn::InterleaveLower(d4, c, e));
    const auto ce_hi = hn::BitCast(d64, hn::InterleaveUpper(d4, c, e));
    float* out = dst + d * dst_stride;
    hn::StoreU(hn::BitCast(d4, hn::InterleaveLower(d64, ab_lo, ce_lo)), d4, out);
    hn::StoreU(hn::BitCast(d4, hn::InterleaveUpper(d64, ab_lo, ce_lo)), d4, out + dst_stride);
    hn::StoreU(hn::BitCast(d4, hn::InterleaveLower(d64, ab_hi, ce_hi)), d4,
               out + 2 * dst_stride);
    hn::StoreU(hn::BitCast(d4, hn::InterleaveUpper(d64, ab_hi, ce_hi)), d4,
               out + 3 * dst_stride);
  }
#endif
  for (; d < dim; ++d) {
    for (int64_t k = 0; k < kPackRows; ++k) {
      dst[d * dst_stride + k] = scale * ScalarF32(row[k] + d);
    }
  }
}

template <typename T>
HWY_INLINE void PackQBlockOf(const mha_problem& p, const int64_t* offset, float scale,
                             float* qt, int64_t rows_pad) {
  const T* row[kPackRows];
  for (int64_t k = 0; k < kPackRows; ++k) row[k] = static_cast<const T*>(p.q.data) + offset[k];
  TransposeRowsOf4(row, scale, p.head_dim, qt, rows_pad);
}

HWY_INLINE void PackQ(const FlashPlan& plan, const ItemCoords& c, float* qt) {
  const mha_problem& p = *plan.p;
  const int64_t rp = plan.rows_pad;
  const float scale = p.scale * kLog2e;
  for (int64_t r0 = 0; r0 < rp; r0 += kPackRows) {  // rp is a multiple of kRowAlign
    int64_t offset[kPackRows];  // of the row in Q; -1 for a padding row
    bool whole = true;
    for (int64_t k = 0; k < kPackRows; ++k) {
      const auto [i, h, real] = RowOf(plan, c, r0 + k);
      offset[k] = r0 + k < c.rows && real ? RowOffset(p.q, c.b, i, h) : -1;
      whole = whole && offset[k] >= 0;
    }
    if (whole) {
      switch (p.q.dtype) {
        case MHA_F32: PackQBlockOf<float>(p, offset, scale, qt + r0, rp); break;
        case MHA_BF16: PackQBlockOf<hwy::bfloat16_t>(p, offset, scale, qt + r0, rp); break;
        default: PackQBlockOf<hwy::float16_t>(p, offset, scale, qt + r0, rp); break;
      }
      continue;
    }
    for (int64_t k = 0; k < kPackRows; ++k) {
      if (offset[k] >= 0) {
        ScaledQRow(p, offset[k], qt + r0 + k, rp);
      } else {
        for (int64_t d = 0; d < p.head_dim; ++d) qt[d * rp + r0 + k] = 0.0f;
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
