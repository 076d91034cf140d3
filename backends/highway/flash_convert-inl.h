// Rows of K/V (f32, bf16 or f16) widened to f32 tiles, one vector at a time.
#if defined(MHA_BACKENDS_HIGHWAY_FLASH_CONVERT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_BACKENDS_HIGHWAY_FLASH_CONVERT_INL_H_
#undef MHA_BACKENDS_HIGHWAY_FLASH_CONVERT_INL_H_
#else
#define MHA_BACKENDS_HIGHWAY_FLASH_CONVERT_INL_H_
#endif

#include <cstdint>

#include "dtype.h"
#include "hwy/highway.h"

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

// Asks for rows [0, num_rows) of `cols` elements each before they are needed:
// K/V rows of one head are strided (the other heads lie between them), which the
// hardware prefetchers follow poorly. Into L2, not L1 (prefetcht1): a whole tile
// ahead would evict the tile being computed from L1.
template <typename T>
HWY_INLINE void PrefetchRows(const T* src, int64_t stride, int64_t num_rows, int64_t cols) {
  const int64_t bytes = cols * static_cast<int64_t>(sizeof(T));
  for (int64_t r = 0; r < num_rows; ++r) {
    const char* row = reinterpret_cast<const char*>(src + r * stride);
    for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch(row + b, 0, 2);
  }
}

// dst[r * dst_stride + c] = src[r * src_stride + c] for c < cols, zero for
// cols <= c < pad_cols.
template <typename T>
HWY_INLINE void RowsToF32(const T* src, int64_t src_stride, int64_t num_rows, int64_t cols,
                          float* dst, int64_t dst_stride, int64_t pad_cols) {
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t r = 0; r < num_rows; ++r) {
    const T* s = src + r * src_stride;
    float* t = dst + r * dst_stride;
    int64_t c = 0;
    for (; c + n <= cols; c += n) hn::StoreU(LoadF32(d, s + c), d, t + c);
    for (; c < cols; ++c) t[c] = ScalarF32(s + c);
    for (; c < pad_cols; ++c) t[c] = 0.0f;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
