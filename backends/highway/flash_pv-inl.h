// The P V update of a tile: o[r] = alpha[r] * o[r] + sum_j P[r][j] V[j]. P is kept
// transposed (pt[j * rows_pad + r]), so a register block of kRows rows x kVecs
// vectors of o broadcasts kRows probabilities and loads kVecs vectors of V per key.
// The rescale by alpha is applied as the block loads o (no pass of its own).
#if defined(MHA_BACKENDS_HIGHWAY_FLASH_PV_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_BACKENDS_HIGHWAY_FLASH_PV_INL_H_
#undef MHA_BACKENDS_HIGHWAY_FLASH_PV_INL_H_
#else
#define MHA_BACKENDS_HIGHWAY_FLASH_PV_INL_H_
#endif

#include <algorithm>
#include <cstdint>

#include "flash_convert-inl.h"
#include "flash_plan.h"
#include "flash_rows.h"
#include "hwy/highway.h"
#include "vec_array-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Register block: kPvRows rows x kPvVecs vectors of o (16 of 32 registers on
// AVX-512, 12 of 16 elsewhere: enough to hide the FMA latency of two pipes).
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
constexpr int kPvRows = 4;
constexpr int kPvVecs = 4;
#else
constexpr int kPvRows = 6;
constexpr int kPvVecs = 2;
#endif

// v: f32, or bf16 / f16 widened as it is loaded. The rows belong to kHeads heads
// (kRows / kHeads rows each), whose V rows start at v + h * v_head_stride. o is
// first scaled by alpha[row] unless alpha is null.
template <int kRows, int kVecs, int kHeads = 1, class D, typename T>
HWY_INLINE void PvBlock(D d, const float* HWY_RESTRICT pt, int64_t rows_pad,
                        const T* HWY_RESTRICT v, int64_t v_stride, int64_t nk,
                        float* HWY_RESTRICT o, int64_t o_stride, int64_t v_head_stride = 0,
                        const float* alpha = nullptr) {
  using V = hn::Vec<D>;
  constexpr int kRowsPerHead = kRows / kHeads;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  VecArray2<D, kRows, kVecs> acc;
  for (int m = 0; m < kRows; ++m) {
    for (int x = 0; x < kVecs; ++x) acc[m][x] = hn::Load(d, o + m * o_stride + x * n);
  }
  if (alpha) {
    for (int m = 0; m < kRows; ++m) {
      const V a = hn::Set(d, alpha[m]);
      for (int x = 0; x < kVecs; ++x) acc[m][x] = hn::Mul(acc[m][x], a);
    }
  }
  for (int64_t j = 0; j < nk; ++j) {
    // A head's V vectors are loaded at its first row (live for that row only
    // when each head has one).
    VecArray<D, kVecs> vv;
    for (int m = 0; m < kRows; ++m) {
      if (m % kRowsPerHead == 0) {
        const T* vh = v + (m / kRowsPerHead) * v_head_stride + j * v_stride;
        for (int x = 0; x < kVecs; ++x) vv[x] = LoadF32(d, vh + x * n);
      }
      const V pb = hn::Set(d, pt[j * rows_pad + m]);
      for (int x = 0; x < kVecs; ++x) acc[m][x] = hn::MulAdd(pb, vv[x], acc[m][x]);
    }
  }
  for (int m = 0; m < kRows; ++m) {
    for (int x = 0; x < kVecs; ++x) hn::Store(acc[m][x], d, o + m * o_stride + x * n);
  }
}

// Rows [r, r + kRows) over every column of o, rescaled by alpha[0, kRows).
template <int kRows, class D>
HWY_INLINE void PvRows(D d, const float* HWY_RESTRICT pt, int64_t rows_pad,
                       const float* HWY_RESTRICT v, int64_t nk, int64_t dv_pad,
                       float* HWY_RESTRICT o, const float* alpha) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  int64_t e = 0;
  for (; e + kPvVecs * n <= dv_pad; e += kPvVecs * n) {
    PvBlock<kRows, kPvVecs>(d, pt, rows_pad, v + e, dv_pad, nk, o + e, dv_pad, 0, alpha);
  }
  for (; e < dv_pad; e += n) {
    PvBlock<kRows, 1>(d, pt, rows_pad, v + e, dv_pad, nk, o + e, dv_pad, 0, alpha);
  }
}

// o[r] *= alpha[r] for the active rows [0, rows) whose max moved: for
// PvTileVisibleOnly, which does not rescale as it loads o.
template <class D>
HWY_NOINLINE void RescaleRows(D d, const int32_t* active, const float* alpha, int64_t rows,
                              float* HWY_RESTRICT o, int64_t dv_pad) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t r = 0; r < rows; ++r) {
    if (!active[r] || alpha[r] == 1.0f) continue;
    const auto a = hn::Set(d, alpha[r]);
    float* row = o + r * dv_pad;
    for (int64_t e = 0; e < dv_pad; e += n) hn::Store(hn::Mul(hn::Load(d, row + e), a), d, row + e);
  }
}

// o = alpha o + P V over keys [0, nk) of the tile (v: f32, dv_pad columns,
// zero-padded) for rows [0, rows). Blocks of rows that see nothing of the tile
// are skipped: their alpha is 1 (or 0 on an o of zeros).
template <class D>
HWY_INLINE void PvTile(D d, const float* HWY_RESTRICT pt, const int32_t* active,
                       const float* alpha, int64_t rows, int64_t rows_pad,
                       const float* HWY_RESTRICT v, int64_t nk, int64_t dv_pad,
                       float* HWY_RESTRICT o) {
  int64_t r = 0;
  for (; r + kPvRows <= rows; r += kPvRows) {
    if (AnyActive(active + r, kPvRows)) {
      PvRows<kPvRows>(d, pt + r, rows_pad, v, nk, dv_pad, o + r * dv_pad, alpha + r);
    }
  }
  if (kPvRows > 4 && r + 4 <= rows) {
    if (AnyActive(active + r, 4)) {
      PvRows<4>(d, pt + r, rows_pad, v, nk, dv_pad, o + r * dv_pad, alpha + r);
    }
    r += 4;
  }
  for (; r + 2 <= rows; r += 2) {
    if (AnyActive(active + r, 2)) {
      PvRows<2>(d, pt + r, rows_pad, v, nk, dv_pad, o + r * dv_pad, alpha + r);
    }
  }
  if (r < rows && active[r]) {
    PvRows<1>(d, pt + r, rows_pad, v, nk, dv_pad, o + r * dv_pad, alpha + r);
  }
}

// o += P V like PvTile for rows [r_begin, r_end), but each active row only over
// the keys it sees, for a tile (vt: f32, dv_pad columns) whose V holds Inf or
// NaN: 0 * Inf would put NaN into rows that never see that key.
template <class D>
HWY_INLINE void PvTileVisibleOnly(D d, const FlashScratch& s, int64_t r_begin, int64_t r_end,
                                  int64_t rows_pad, int64_t j0, int64_t nk,
                                  const float* HWY_RESTRICT vt, int64_t dv_pad) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t r = r_begin; r < r_end; ++r) {
    if (!s.active[r]) continue;
    const int64_t first = std::max<int64_t>(s.begin[r], j0) - j0;
    const int64_t last = std::min<int64_t>(s.end[r], j0 + nk) - j0;
    for (int64_t e = 0; e < dv_pad; e += n) {
      PvBlock<1, 1>(d, s.st + first * rows_pad + r, rows_pad, vt + first * dv_pad + e,
                    dv_pad, last - first, s.o + r * dv_pad + e, dv_pad);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
