// Rows of K/V (f32, bf16 or f16) widened to f32 tiles, one vector at a time.
#if defined(MHA_BACKENDS_HIGHWAY_FLASH_CONVERT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_BACKENDS_HIGHWAY_FLASH_CONVERT_INL_H_
#undef MHA_BACKENDS_HIGHWAY_FLASH_CONVERT_INL_H_
#else
#define MHA_BACKENDS_HIGHWAY_FLASH_CONVERT_INL_H_
#endif

#include <cstdint>

#include "flash_plan.h"
#include "hwy/highway.h"
#include "mha/kit/dtype.h"
#include "prefetch.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class D>
HWY_INLINE hn::Vec<D> LoadF32(D d, const float* p) {
  return hn::LoadU(d, p);
}
template <class D>
HWY_INLINE hn::Vec<D> LoadF32(D d, const hwy::bfloat16_t* p) {
  return hn::PromoteTo(d, hn::LoadU(hn::Rebind<hwy::bfloat16_t, D>(), p));
}
template <class D>
HWY_INLINE hn::Vec<D> LoadF32(D d, const hwy::float16_t* p) {
  return hn::PromoteTo(d, hn::LoadU(hn::Rebind<hwy::float16_t, D>(), p));
}

HWY_INLINE float ScalarF32(const float* p) { return *p; }
HWY_INLINE float ScalarF32(const hwy::bfloat16_t* p) {
  return BF16ToF32(*reinterpret_cast<const uint16_t*>(p));
}
HWY_INLINE float ScalarF32(const hwy::float16_t* p) {
  return F16ToF32(*reinterpret_cast<const uint16_t*>(p));
}

// dst[r * dst_stride + c] = src[r * src_stride + c] for c < cols, zero for
// cols <= c < pad_cols. Prefetches the rows of the next tile. Returns whether
// every element is finite.
template <typename T>
HWY_INLINE bool RowsToF32(const T* src, int64_t src_stride, int64_t num_rows, int64_t cols,
                          float* dst, int64_t dst_stride, int64_t pad_cols) {
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  // x - x is 0 for a finite x and NaN for Inf or NaN. OR-ed, not added: an add's
  // latency chained through every vector bounded the copy.
  auto non_finite = hn::Zero(d);
  float scalar_non_finite = 0.0f;
  for (int64_t r = 0; r < num_rows; ++r) {
    const T* s = src + r * src_stride;
    PrefetchRow(RowAhead(s, kTileKeys, src_stride), cols);
    float* t = dst + r * dst_stride;
    int64_t c = 0;
    for (; c + n <= cols; c += n) {
      const auto x = LoadF32(d, s + c);
      non_finite = hn::Or(non_finite, hn::Sub(x, x));
      hn::StoreU(x, d, t + c);
    }
    for (; c < cols; ++c) {
      t[c] = ScalarF32(s + c);
      scalar_non_finite += t[c] - t[c];
    }
    for (; c < pad_cols; ++c) t[c] = 0.0f;
  }
  return hn::AllTrue(d, hn::Eq(non_finite, hn::Zero(d))) && scalar_non_finite == 0.0f;
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
