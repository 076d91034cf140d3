#include "dot_bf16_avx512.h"

#include <cstring>

#include "flash_rows.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MHA_BF16_TARGET __attribute__((target("avx512f,avx512bf16,avx512vl")))
#endif

namespace mha {

#ifdef MHA_BF16_TARGET
namespace {

constexpr int kKeys = 8;  // 8 keys x 2 vectors of 16 rows: 16 of 32 registers

// One vdpbf16ps adds two products per lane: a pair of Q elements of 16 rows
// against the same pair of one key, broadcast.
template <int kBlockKeys, int kRowVecs>
MHA_BF16_TARGET void QkBlock(const uint16_t* k, int64_t k_stride, int64_t pairs,
                             const uint32_t* qt, int64_t rows_pad, float* st) {
  __m512 acc[kBlockKeys][kRowVecs];
  for (int m = 0; m < kBlockKeys; ++m) {
    for (int x = 0; x < kRowVecs; ++x) acc[m][x] = _mm512_setzero_ps();
  }
  for (int64_t t = 0; t < pairs; ++t) {
    __m512i q[kRowVecs];
    for (int x = 0; x < kRowVecs; ++x) {
      q[x] = _mm512_load_si512(qt + t * rows_pad + x * 16);
    }
    for (int m = 0; m < kBlockKeys; ++m) {
      uint32_t pair;
      std::memcpy(&pair, k + m * k_stride + 2 * t, sizeof pair);
      const __m512i kb = _mm512_set1_epi32(static_cast<int>(pair));
      for (int x = 0; x < kRowVecs; ++x) {
        acc[m][x] = _mm512_dpbf16_ps(acc[m][x], (__m512bh)q[x], (__m512bh)kb);
      }
    }
  }
  for (int m = 0; m < kBlockKeys; ++m) {
    for (int x = 0; x < kRowVecs; ++x) _mm512_store_ps(st + m * rows_pad + x * 16, acc[m][x]);
  }
}

template <int kRowVecs>
MHA_BF16_TARGET void QkRows(const uint16_t* k, int64_t k_stride, int64_t nk, int64_t pairs,
                            const uint32_t* qt, int64_t rows_pad, float* st) {
  int64_t j = 0;
  for (; j + kKeys <= nk; j += kKeys) {
    QkBlock<kKeys, kRowVecs>(k + j * k_stride, k_stride, pairs, qt, rows_pad,
                             st + j * rows_pad);
  }
  for (; j < nk; ++j) {
    QkBlock<1, kRowVecs>(k + j * k_stride, k_stride, pairs, qt, rows_pad, st + j * rows_pad);
  }
}

}  // namespace

bool CpuHasAvx512Bf16() { return __builtin_cpu_supports("avx512bf16"); }

MHA_BF16_TARGET void QkTileBf16Avx512(const uint16_t* k, int64_t k_stride, int64_t nk,
                                      int64_t dim, const uint32_t* qt, int64_t rows_pad,
                                      const int32_t* active, float* st) {
  const int64_t pairs = dim / 2;
  int64_t c = 0;
  for (; c + 32 <= rows_pad; c += 32) {
    if (AnyActive(active + c, 32)) QkRows<2>(k, k_stride, nk, pairs, qt + c, rows_pad, st + c);
  }
  for (; c < rows_pad; c += 16) {
    if (AnyActive(active + c, 16)) QkRows<1>(k, k_stride, nk, pairs, qt + c, rows_pad, st + c);
  }
}

#else  // no x86 GCC/Clang: the portable path always runs

bool CpuHasAvx512Bf16() { return false; }

void QkTileBf16Avx512(const uint16_t*, int64_t, int64_t, int64_t, const uint32_t*, int64_t,
                      const int32_t*, float*) {}

#endif

}  // namespace mha
