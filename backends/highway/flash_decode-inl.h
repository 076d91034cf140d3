// QK^T for work items with few query rows (decode: one new token per head of a
// GQA group). Vectors run along head_dim and K is read in place, widened in
// registers: each K element is loaded once, sequentially, and no tile is packed.
#if defined(MHA_BACKENDS_HIGHWAY_FLASH_DECODE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_BACKENDS_HIGHWAY_FLASH_DECODE_INL_H_
#undef MHA_BACKENDS_HIGHWAY_FLASH_DECODE_INL_H_
#else
#define MHA_BACKENDS_HIGHWAY_FLASH_DECODE_INL_H_
#endif

#include <cstdint>

#include "flash_convert-inl.h"
#include "flash_rows.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr int kDotRows = 4;  // query rows per block; 2 keys x 4 rows accumulators

// st[j * rows_pad + r] = dot(K[j], q[r]) for kKeys keys and kDotRows rows of q
// (row-major, dim floats each); dim is a multiple of the vector length.
template <int kKeys, typename T, class D>
HWY_INLINE void QkDotBlock(D d, const T* HWY_RESTRICT k, int64_t k_stride, int64_t dim,
                           const float* HWY_RESTRICT q, int64_t rows_pad,
                           float* HWY_RESTRICT st) {
  using V = hn::Vec<D>;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  V acc[kKeys][kDotRows];
  for (int m = 0; m < kKeys; ++m) {
    for (int r = 0; r < kDotRows; ++r) acc[m][r] = hn::Zero(d);
  }
  for (int64_t t = 0; t < dim; t += n) {
    V kv[kKeys];
    for (int m = 0; m < kKeys; ++m) kv[m] = LoadF32(d, k + m * k_stride + t);
    for (int r = 0; r < kDotRows; ++r) {
      const V qv = hn::Load(d, q + r * dim + t);
      for (int m = 0; m < kKeys; ++m) acc[m][r] = hn::MulAdd(qv, kv[m], acc[m][r]);
    }
  }
  for (int m = 0; m < kKeys; ++m) {
    for (int r = 0; r < kDotRows; ++r) {
      st[m * rows_pad + r] = hn::GetLane(hn::SumOfLanes(d, acc[m][r]));
    }
  }
}

// Raw dots of keys [0, nk) for rows [0, rows) (q: row-major). Also prefetches
// the next tile's K and V rows (v, v_stride, dv), spread over the loop.
template <typename T, class D>
HWY_INLINE void QkDotTile(D d, const T* HWY_RESTRICT k, int64_t k_stride, int64_t nk,
                          int64_t dim, const float* HWY_RESTRICT q, int64_t rows,
                          int64_t rows_pad, float* HWY_RESTRICT st, const T* v,
                          int64_t v_stride, int64_t dv) {
  for (int64_t r = 0; r < rows; r += kDotRows) {
    int64_t j = 0;
    for (; j + 2 <= nk; j += 2) {
      if (r == 0) {
        for (int64_t jj = j + kTileKeys; jj < j + kTileKeys + 2; ++jj) {
          PrefetchRow(k + jj * k_stride, dim);
          PrefetchRow(v + jj * v_stride, dv);
        }
      }
      QkDotBlock<2>(d, k + j * k_stride, k_stride, dim, q + r * dim, rows_pad,
                    st + j * rows_pad + r);
    }
    if (j < nk) {
      QkDotBlock<1>(d, k + j * k_stride, k_stride, dim, q + r * dim, rows_pad,
                    st + j * rows_pad + r);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
