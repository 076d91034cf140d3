#include "flash_bf16_avx512.h"

#include <cstring>
#include <limits>

#include "bf16_avx512_target.h"
#include "flash_plan.h"
#include "flash_rows.h"
#include "prefetch.h"

namespace mha {

#ifdef MHA_BF16_TARGET
namespace {

constexpr int kQkKeys = 8;  // 8 keys x 2 vectors of 16 rows: 16 of 32 registers
// P V: kPvRows rows x kPvVecs vectors of o (24 accumulators), kPvVecs of V.
constexpr int kPvRows = 6;
constexpr int kPvVecs = 4;

// One vdpbf16ps adds two products per lane: a pair of Q elements of 16 rows
// against the same pair of one key, broadcast. Not inlined: inlined into QkRows,
// GCC 12 spilled the Q vectors and reloaded them before every vdpbf16ps.
template <int kBlockKeys, int kRowVecs>
__attribute__((noinline)) MHA_BF16_TARGET void QkBlock(const uint16_t* k, int64_t k_stride,
                                                       int64_t pairs, const uint32_t* qt,
                                                       int64_t rows_pad, __m512 scale, float* st,
                                                       __m512* row_max) {
  __m512 acc[kBlockKeys][kRowVecs];
  for (int m = 0; m < kBlockKeys; ++m) {
    for (int x = 0; x < kRowVecs; ++x) acc[m][x] = _mm512_setzero_ps();
  }
  // pairs >= 1. A do-while: with a loop that might not run, GCC 12 merges the two
  // paths through the stack, storing and reloading every accumulator.
  int64_t t = 0;
  do {
    __m512bh q[kRowVecs];
    for (int x = 0; x < kRowVecs; ++x) {
      q[x] = (__m512bh)_mm512_load_si512(qt + t * rows_pad + x * 16);
    }
    for (int m = 0; m < kBlockKeys; ++m) {
      uint32_t pair;
      std::memcpy(&pair, k + m * k_stride + 2 * t, sizeof pair);
      const __m512bh kb = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair));
      for (int x = 0; x < kRowVecs; ++x) acc[m][x] = _mm512_dpbf16_ps(acc[m][x], q[x], kb);
    }
  } while (++t < pairs);
  for (int m = 0; m < kBlockKeys; ++m) {
    for (int x = 0; x < kRowVecs; ++x) {
      const __m512 s = _mm512_mul_ps(acc[m][x], scale);
      _mm512_store_ps(st + m * rows_pad + x * 16, s);
      row_max[x] = _mm512_max_ps(row_max[x], s);
    }
  }
}

template <int kRowVecs>
MHA_BF16_TARGET void QkRows(const uint16_t* k, int64_t k_stride, int64_t nk, int64_t pairs,
                            const uint32_t* qt, int64_t rows_pad, float scale_f, float* st,
                            float* tile_max) {
  const __m512 scale = _mm512_set1_ps(scale_f);
  __m512 row_max[kRowVecs];
  for (int x = 0; x < kRowVecs; ++x) {
    row_max[x] = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  }
  int64_t j = 0;
  for (; j + kQkKeys <= nk; j += kQkKeys) {
    QkBlock<kQkKeys, kRowVecs>(k + j * k_stride, k_stride, pairs, qt, rows_pad, scale,
                               st + j * rows_pad, row_max);
  }
  for (; j < nk; ++j) {
    QkBlock<1, kRowVecs>(k + j * k_stride, k_stride, pairs, qt, rows_pad, scale,
                         st + j * rows_pad, row_max);
  }
  for (int x = 0; x < kRowVecs; ++x) _mm512_store_ps(tile_max + x * 16, row_max[x]);
}

// 16 pairs of bf16: lane i = lo[i] | hi[i] << 16.
MHA_BF16_TARGET __m512i PairsOf(__m256i lo, __m256i hi) {
  return _mm512_or_si512(_mm512_cvtepu16_epi32(lo),
                         _mm512_slli_epi32(_mm512_cvtepu16_epi32(hi), 16));
}

// Rows [0, kRows) of o, columns [0, kVecs * 16), rescaled by alpha as they are
// loaded; each key pair loads kVecs vectors of V and broadcasts kRows pairs of P.
template <int kRows, int kVecs>
MHA_BF16_TARGET void PvBlock(const uint32_t* pp, int64_t rows_pad, const uint32_t* vp,
                             int64_t dv_pad, int64_t pairs, float* o, const float* alpha) {
  __m512 acc[kRows][kVecs];
  for (int m = 0; m < kRows; ++m) {
    const __m512 a = _mm512_set1_ps(alpha[m]);
    for (int x = 0; x < kVecs; ++x) {
      acc[m][x] = _mm512_mul_ps(_mm512_load_ps(o + m * dv_pad + x * 16), a);
    }
  }
  int64_t t = 0;  // pairs >= 1: a do-while, as in QkBlock
  do {
    __m512bh v[kVecs];
    for (int x = 0; x < kVecs; ++x) {
      v[x] = (__m512bh)_mm512_load_si512(vp + t * dv_pad + x * 16);
    }
    for (int m = 0; m < kRows; ++m) {
      const __m512bh pb = (__m512bh)_mm512_set1_epi32(static_cast<int>(pp[t * rows_pad + m]));
      for (int x = 0; x < kVecs; ++x) acc[m][x] = _mm512_dpbf16_ps(acc[m][x], v[x], pb);
    }
  } while (++t < pairs);
  for (int m = 0; m < kRows; ++m) {
    for (int x = 0; x < kVecs; ++x) _mm512_store_ps(o + m * dv_pad + x * 16, acc[m][x]);
  }
}

template <int kRows>
MHA_BF16_TARGET void PvRows(const uint32_t* pp, int64_t rows_pad, const uint32_t* vp,
                            int64_t dv_pad, int64_t pairs, float* o, const float* alpha) {
  int64_t e = 0;
  for (; e + kPvVecs * 16 <= dv_pad; e += kPvVecs * 16) {
    PvBlock<kRows, kPvVecs>(pp, rows_pad, vp + e, dv_pad, pairs, o + e, alpha);
  }
  for (; e < dv_pad; e += 16) PvBlock<kRows, 1>(pp, rows_pad, vp + e, dv_pad, pairs, o + e, alpha);
}

}  // namespace

bool CpuHasAvx512Bf16() { return __builtin_cpu_supports("avx512bf16"); }

MHA_BF16_TARGET void QkTileBf16Avx512(const uint16_t* k, int64_t k_stride, int64_t nk,
                                      int64_t dim, const uint32_t* qt, int64_t rows_pad,
                                      const int32_t* active, float scale, float* st,
                                      float* tile_max) {
  const int64_t pairs = dim / 2;
  int64_t c = 0;
  for (; c + 32 <= rows_pad; c += 32) {
    if (AnyActive(active + c, 32)) {
      QkRows<2>(k, k_stride, nk, pairs, qt + c, rows_pad, scale, st + c, tile_max + c);
    }
  }
  for (; c < rows_pad; c += 16) {
    if (AnyActive(active + c, 16)) {
      QkRows<1>(k, k_stride, nk, pairs, qt + c, rows_pad, scale, st + c, tile_max + c);
    }
  }
}

MHA_BF16_TARGET bool PackVPairsBf16Avx512(const uint16_t* v, int64_t v_stride, int64_t nk,
                                          int64_t dv, uint32_t* vp, int64_t dv_pad) {
  // A bf16 is Inf or NaN when its exponent bits are all ones.
  const __m512i exponent = _mm512_set1_epi16(0x7f80);
  __mmask32 non_finite = 0;
  for (int64_t j = 0; j < nk; j += 2) {
    const uint16_t* lo = v + j * v_stride;
    const bool has_hi = j + 1 < nk;
    const uint16_t* hi = has_hi ? lo + v_stride : lo;  // a lone last row's stride may be huge
    PrefetchRow(RowAhead(lo, kTileKeys, v_stride), dv);
    if (has_hi) PrefetchRow(RowAhead(hi, kTileKeys, v_stride), dv);
    uint32_t* dst = vp + (j / 2) * dv_pad;
    for (int64_t e = 0; e < dv_pad; e += 16) {
      const __mmask16 cols = e + 16 <= dv ? __mmask16(0xffff)
                             : e < dv     ? __mmask16((1u << (dv - e)) - 1)
                                          : __mmask16(0);
      const __m256i a = _mm256_maskz_loadu_epi16(cols, lo + e);
      const __m256i b = has_hi ? _mm256_maskz_loadu_epi16(cols, hi + e) : _mm256_setzero_si256();
      const __m512i pair = PairsOf(a, b);
      non_finite |= _mm512_cmpeq_epi16_mask(_mm512_and_si512(pair, exponent), exponent);
      _mm512_store_si512(dst + e, pair);
    }
  }
  return non_finite == 0;
}

MHA_BF16_TARGET void PackPPairsBf16Avx512(float* st, int64_t rows_pad, int64_t nk) {
  uint32_t* pp = reinterpret_cast<uint32_t*>(st);
  // Pair t reads rows 2t and 2t + 1 and writes row t, which pairs before it have read.
  for (int64_t j = 0; j < nk; j += 2) {
    const float* lo = st + j * rows_pad;
    const float* hi = lo + rows_pad;
    const bool has_hi = j + 1 < nk;
    for (int64_t r = 0; r < rows_pad; r += 16) {
      const __m256i a = (__m256i)_mm512_cvtneps_pbh(_mm512_load_ps(lo + r));
      const __m256i b = has_hi ? (__m256i)_mm512_cvtneps_pbh(_mm512_load_ps(hi + r))
                               : _mm256_setzero_si256();
      _mm512_store_si512(pp + (j / 2) * rows_pad + r, PairsOf(a, b));
    }
  }
}

MHA_BF16_TARGET void PvTileBf16Avx512(const uint32_t* pp, const int32_t* active,
                                      const float* alpha, int64_t rows, int64_t rows_pad,
                                      const uint32_t* vp, int64_t pairs, int64_t dv_pad,
                                      float* o) {
  int64_t r = 0;
  for (; r + kPvRows <= rows; r += kPvRows) {
    if (AnyActive(active + r, kPvRows)) {
      PvRows<kPvRows>(pp + r, rows_pad, vp, dv_pad, pairs, o + r * dv_pad, alpha + r);
    }
  }
  if (kPvRows > 4 && r + 4 <= rows) {
    if (AnyActive(active + r, 4)) {
      PvRows<4>(pp + r, rows_pad, vp, dv_pad, pairs, o + r * dv_pad, alpha + r);
    }
    r += 4;
  }
  for (; r < rows; ++r) {
    if (active[r]) PvRows<1>(pp + r, rows_pad, vp, dv_pad, pairs, o + r * dv_pad, alpha + r);
  }
}

#else  // no x86 GCC/Clang: the portable path always runs

bool CpuHasAvx512Bf16() { return false; }

void QkTileBf16Avx512(const uint16_t*, int64_t, int64_t, int64_t, const uint32_t*, int64_t,
                      const int32_t*, float, float*, float*) {}
bool PackVPairsBf16Avx512(const uint16_t*, int64_t, int64_t, int64_t, uint32_t*, int64_t) {
  return false;
}
void PackPPairsBf16Avx512(float*, int64_t, int64_t) {}
void PvTileBf16Avx512(const uint32_t*, const int32_t*, const float*, int64_t, int64_t,
                      const uint32_t*, int64_t, int64_t, float*) {}

#endif

}  // namespace mha
