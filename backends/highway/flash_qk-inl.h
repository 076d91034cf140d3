// Scores of a K tile against the query rows of a work item, transposed:
// st[j * rows_pad + r] = dot(K[j], Q[r]), and the max over the tile of each row
// (taken from the registers, which spares the softmax a pass over st). Q is
// packed transposed (qt[d][r]), so a register block holds kKeys keys x kRowVecs
// vectors of rows: each step over d loads kRowVecs vectors of Q and broadcasts
// kKeys elements of K.
#if defined(MHA_BACKENDS_HIGHWAY_FLASH_QK_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_BACKENDS_HIGHWAY_FLASH_QK_INL_H_
#undef MHA_BACKENDS_HIGHWAY_FLASH_QK_INL_H_
#else
#define MHA_BACKENDS_HIGHWAY_FLASH_QK_INL_H_
#endif

#include <cstdint>
#include <limits>

#include "flash_rows.h"
#include "hwy/highway.h"
#include "vec_array-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Keys per register block: AVX-512 has 32 registers, the others 16 (12
// accumulators hide the FMA latency of two pipes).
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
constexpr int kQkKeys = 8;
#else
constexpr int kQkKeys = 6;
#endif
constexpr int kQkRowVecs = 2;

template <int kKeys, int kRowVecs, class D>
HWY_INLINE void QkBlock(D d, const float* HWY_RESTRICT k, int64_t k_stride, int64_t dim,
                        const float* HWY_RESTRICT qt, int64_t rows_pad,
                        float* HWY_RESTRICT st, VecArray<D, kRowVecs>& row_max) {
  using V = hn::Vec<D>;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  VecArray2<D, kKeys, kRowVecs> acc;
  for (int m = 0; m < kKeys; ++m) {
    for (int x = 0; x < kRowVecs; ++x) acc[m][x] = hn::Zero(d);
  }
  for (int64_t t = 0; t < dim; ++t) {
    VecArray<D, kRowVecs> q;
    for (int x = 0; x < kRowVecs; ++x) q[x] = hn::Load(d, qt + t * rows_pad + x * n);
    for (int m = 0; m < kKeys; ++m) {
      const V kb = hn::Set(d, k[m * k_stride + t]);
      for (int x = 0; x < kRowVecs; ++x) acc[m][x] = hn::MulAdd(kb, q[x], acc[m][x]);
    }
  }
  for (int m = 0; m < kKeys; ++m) {
    for (int x = 0; x < kRowVecs; ++x) {
      hn::Store(acc[m][x], d, st + m * rows_pad + x * n);
      row_max[x] = hn::Max(row_max[x], acc[m][x]);
    }
  }
}

// Keys [0, nk) for kRowVecs vectors of rows; their maxes go to tile_max.
template <int kRowVecs, class D>
HWY_INLINE void QkRows(D d, const float* HWY_RESTRICT k, int64_t k_stride, int64_t nk,
                       int64_t dim, const float* HWY_RESTRICT qt, int64_t rows_pad,
                       float* HWY_RESTRICT st, float* HWY_RESTRICT tile_max) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  VecArray<D, kRowVecs> row_max;
  for (int x = 0; x < kRowVecs; ++x) {
    row_max[x] = hn::Set(d, -std::numeric_limits<float>::infinity());
  }
  int64_t j = 0;
  for (; j + kQkKeys <= nk; j += kQkKeys) {
    QkBlock<kQkKeys, kRowVecs>(d, k + j * k_stride, k_stride, dim, qt, rows_pad,
                               st + j * rows_pad, row_max);
  }
  if (j + 4 <= nk) {
    QkBlock<4, kRowVecs>(d, k + j * k_stride, k_stride, dim, qt, rows_pad, st + j * rows_pad,
                         row_max);
    j += 4;
  }
  for (; j < nk; ++j) {
    QkBlock<1, kRowVecs>(d, k + j * k_stride, k_stride, dim, qt, rows_pad,
                         st + j * rows_pad, row_max);
  }
  for (int x = 0; x < kRowVecs; ++x) hn::Store(row_max[x], d, tile_max + x * n);
}

// Scores of keys k[0, nk) (row stride k_stride, f32) for every active row group,
// and each row's max over them in tile_max[r] (rows of inactive groups: unset).
template <class D>
HWY_INLINE void QkTile(D d, const float* HWY_RESTRICT k, int64_t k_stride, int64_t nk,
                       int64_t dim, const float* HWY_RESTRICT qt, int64_t rows_pad,
                       const int32_t* active, float* HWY_RESTRICT st,
                       float* HWY_RESTRICT tile_max) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  int64_t c = 0;
  for (; c + kQkRowVecs * n <= rows_pad; c += kQkRowVecs * n) {
    if (!AnyActive(active + c, kQkRowVecs * n)) continue;
    QkRows<kQkRowVecs>(d, k, k_stride, nk, dim, qt + c, rows_pad, st + c, tile_max + c);
  }
  for (; c < rows_pad; c += n) {
    if (!AnyActive(active + c, n)) continue;
    QkRows<1>(d, k, k_stride, nk, dim, qt + c, rows_pad, st + c, tile_max + c);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
