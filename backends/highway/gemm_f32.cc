// The f32 GEMM kernels (FMA tiles over f32 panels, and x rows widened to f32),
// compiled for every Highway target.
#include <cstdint>
#include <cstring>

#include "gemm_kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "gemm_f32.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "gemm_tile-inl.h"
#include "mha/kit/dtype.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {

void GemmTileF32(int64_t rows, const void* const* a, const void* b, int64_t kc, float* c,
                 int64_t c_stride, bool accumulate) {
  TileRowsF32<kTileRows>(rows, reinterpret_cast<const float* const*>(a),
                         static_cast<const float*>(b), kc, c, c_stride, accumulate);
}

// dst[i] = x[i] for the whole vectors of [0, count); returns where they end.
template <typename T>
int64_t WidenVectors(const T* x, int64_t count, float* dst) {
  const hn::ScalableTag<float> d;
  const hn::Rebind<T, decltype(d)> dt;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + lanes <= count; i += lanes) {
    hn::StoreU(hn::PromoteTo(d, hn::LoadU(dt, x + i)), d, dst + i);
  }
  return i;
}

void GemmConvertRowF32(const void* x, mha_dtype x_dtype, int64_t count, int64_t padded,
                       void* dst_void) {
  float* dst = static_cast<float*>(dst_void);
  int64_t i = 0;
  if (x_dtype == MHA_F32) {
    std::memcpy(dst, x, static_cast<size_t>(count) * sizeof(float));
    i = count;
  } else if (x_dtype == MHA_BF16) {
    i = WidenVectors(static_cast<const hwy::bfloat16_t*>(x), count, dst);
  } else if (x_dtype == MHA_F16) {
    i = WidenVectors(static_cast<const hwy::float16_t*>(x), count, dst);
  }
  for (; i < count; ++i) dst[i] = LoadAsF32(x, x_dtype, i);
  for (; i < padded; ++i) dst[i] = 0.0f;
}

GemmTileShape GemmShapeF32() {
  const hn::ScalableTag<float> d;
  return {kTileRows, kTileVecs * static_cast<int64_t>(hn::Lanes(d))};
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mha {

HWY_EXPORT(GemmTileF32);
HWY_EXPORT(GemmConvertRowF32);
HWY_EXPORT(GemmShapeF32);

GemmKernels GemmKernelsF32(size_t table_index) {
  return {HWY_DISPATCH_TABLE(GemmTileF32)[table_index],
          HWY_DISPATCH_TABLE(GemmConvertRowF32)[table_index], MHA_F32};
}

GemmTileShape GemmTileShapeF32(size_t table_index) {
  return HWY_DISPATCH_TABLE(GemmShapeF32)[table_index]();
}

}  // namespace mha
#endif  // HWY_ONCE
