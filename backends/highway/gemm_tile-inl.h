// The f32 GEMM tile: kRows rows of x against kVecs vectors of one panel, all of them
// accumulators in registers; each k broadcasts one element per row and loads kVecs
// vectors of the panel (one FMA per accumulator).
#if defined(MHA_BACKENDS_HIGHWAY_GEMM_TILE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_BACKENDS_HIGHWAY_GEMM_TILE_INL_H_
#undef MHA_BACKENDS_HIGHWAY_GEMM_TILE_INL_H_
#else
#define MHA_BACKENDS_HIGHWAY_GEMM_TILE_INL_H_
#endif

#include <cstdint>

#include "hwy/highway.h"
#include "vec_array-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Rows and vectors of the widest tile: 6 x 4 on AVX-512 (24 of 32 registers hold
// accumulators), 6 x 2 on AVX2 and SSE4 (12 of 16); the scalar target has 16
// registers for single floats.
#if HWY_TARGET == HWY_SCALAR
constexpr int kTileRows = 4;
constexpr int kTileVecs = 2;
#elif HWY_TARGET <= HWY_AVX3
constexpr int kTileRows = 6;
constexpr int kTileVecs = 4;
#else
constexpr int kTileRows = 6;
constexpr int kTileVecs = 2;
#endif

// c[r][0, kVecs * lanes) (+)= sum_{k < kc} a[r][k] b[k][.]. Not inlined, and the k
// loop is a do-while (kc >= 1): so GCC keeps every accumulator in a register.
template <int kRows, int kVecs>
HWY_NOINLINE void TileF32(const float* const* a, const float* HWY_RESTRICT b, int64_t kc,
                          float* HWY_RESTRICT c, int64_t c_stride, bool accumulate) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t panel_floats = kVecs * lanes;
  using V = hn::Vec<decltype(d)>;
  VecArray2<decltype(d), kRows, kVecs> acc;
  const float* rows[kRows];
  for (int r = 0; r < kRows; ++r) {
    rows[r] = a[r];
    for (int v = 0; v < kVecs; ++v) {
      acc[r][v] = accumulate ? hn::Load(d, c + r * c_stride + v * lanes) : hn::Zero(d);
    }
  }
  int64_t k = 0;
  do {
    VecArray<decltype(d), kVecs> panel;
    for (int v = 0; v < kVecs; ++v) panel[v] = hn::Load(d, b + k * panel_floats + v * lanes);
    for (int r = 0; r < kRows; ++r) {
      const V x = hn::Set(d, rows[r][k]);
      for (int v = 0; v < kVecs; ++v) acc[r][v] = hn::MulAdd(x, panel[v], acc[r][v]);
    }
  } while (++k < kc);
  for (int r = 0; r < kRows; ++r) {
    for (int v = 0; v < kVecs; ++v) hn::Store(acc[r][v], d, c + r * c_stride + v * lanes);
  }
}

template <int kRows>
void TileRowsF32(int64_t rows, const float* const* a, const float* b, int64_t kc, float* c,
                 int64_t c_stride, bool accumulate) {
  if constexpr (kRows > 1) {
    if (rows < kRows) return TileRowsF32<kRows - 1>(rows, a, b, kc, c, c_stride, accumulate);
  }
  TileF32<kRows, kTileVecs>(a, b, kc, c, c_stride, accumulate);
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#endif  // include guard
