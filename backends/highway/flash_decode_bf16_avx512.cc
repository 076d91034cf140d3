#include "flash_decode_bf16_avx512.h"

#include "bf16_avx512_target.h"
#include "flash_plan.h"
#include "prefetch.h"

namespace mha {

int64_t DecodeQRowStride(int64_t head_dim) { return (head_dim + 31) / 32 * 32; }

#ifdef MHA_BF16_TARGET
namespace {

// A block is kDotRows rows x kBlockKeys keys: 16 accumulators, the block's 4 Q
// vectors and its keys' K vectors of one 32-element chunk fit the 32 registers.
constexpr int kBlockKeys = 4;
static_assert(kDotRows == 4, "the reductions below take 4 rows");

// Per 128-bit block: the partial sums of a, b, c and e over that block's 4 lanes.
MHA_BF16_TARGET __m512 BlockSumsOf4(__m512 a, __m512 b, __m512 c, __m512 e) {
  const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
  const __m512 ce = _mm512_add_ps(_mm512_unpacklo_ps(c, e), _mm512_unpackhi_ps(c, e));
  const __m512d ab64 = _mm512_castps_pd(ab), ce64 = _mm512_castps_pd(ce);
  return _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(ab64, ce64)),
                       _mm512_castpd_ps(_mm512_unpackhi_pd(ab64, ce64)));
}

// The 4 sums of one key's partials (block sums of its 4 rows).
MHA_BF16_TARGET __m128 SumOfBlocks(__m512 s) {
  const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1));
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(s), hi);
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// 4 keys' block sums -> block m holds key m's 4 row sums.
MHA_BF16_TARGET __m512 TransposeSumBlocks(__m512 s0, __m512 s1, __m512 s2, __m512 s3) {
  const __m512 w01 = _mm512_add_ps(_mm512_shuffle_f32x4(s0, s1, _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(s0, s1, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 w23 = _mm512_add_ps(_mm512_shuffle_f32x4(s2, s3, _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(s2, s3, _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(w01, w23, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(w01, w23, _MM_SHUFFLE(3, 1, 3, 1)));
}

// Rows [0, 4) of q against keys [0, kKeys) of k: the rows span kHeads head
// slots, whose K rows start head_stride apart. `last` masks the final chunk's
// K elements (past dim: another head's data, or past the buffer). Not inlined and
// the chunk loop a do-while (chunks >= 1), as in flash_bf16_avx512.cc, so that GCC
// keeps the accumulators in registers.
template <int kKeys, int kHeads>
__attribute__((noinline)) MHA_BF16_TARGET void DotBlock(const uint16_t* k, int64_t key_stride,
                                                        int64_t head_stride, int64_t chunks,
                                                        __mmask32 last, const uint16_t* q,
                                                        int64_t q_stride, __m512 scale,
                                                        int64_t rows_pad, float* st) {
  constexpr int kRowsPerHead = kDotRows / kHeads;
  __m512 acc[kKeys][kDotRows];
  for (int m = 0; m < kKeys; ++m) {
    for (int r = 0; r < kDotRows; ++r) acc[m][r] = _mm512_setzero_ps();
  }
  int64_t c = 0;
  do {
    const __mmask32 lanes = c + 1 < chunks ? ~__mmask32{0} : last;
    __m512bh kv[kKeys];
    for (int r = 0; r < kDotRows; ++r) {
      if (r % kRowsPerHead == 0) {
        const uint16_t* kh = k + (r / kRowsPerHead) * head_stride + c * 32;
        for (int m = 0; m < kKeys; ++m) {
          kv[m] = (__m512bh)_mm512_maskz_loadu_epi16(lanes, kh + m * key_stride);
        }
      }
      const __m512bh qv = (__m512bh)_mm512_loadu_si512(q + r * q_stride + c * 32);
      for (int m = 0; m < kKeys; ++m) acc[m][r] = _mm512_dpbf16_ps(acc[m][r], qv, kv[m]);
    }
  } while (++c < chunks);
  __m512 sums[kKeys];
  for (int m = 0; m < kKeys; ++m) {
    sums[m] = BlockSumsOf4(acc[m][0], acc[m][1], acc[m][2], acc[m][3]);
  }
  if constexpr (kKeys == 4) {
    const __m512 all = _mm512_mul_ps(TransposeSumBlocks(sums[0], sums[1], sums[2], sums[3]), scale);
    _mm_storeu_ps(st, _mm512_castps512_ps128(all));
    _mm_storeu_ps(st + rows_pad, _mm512_extractf32x4_ps(all, 1));
    _mm_storeu_ps(st + 2 * rows_pad, _mm512_extractf32x4_ps(all, 2));
    _mm_storeu_ps(st + 3 * rows_pad, _mm512_extractf32x4_ps(all, 3));
  } else {
    for (int m = 0; m < kKeys; ++m) {
      _mm_storeu_ps(st + m * rows_pad,
                    _mm_mul_ps(SumOfBlocks(sums[m]), _mm512_castps512_ps128(scale)));
    }
  }
}

// The dots of keys [j, j + kKeys) with every row, row block by row block; each
// head's first block prefetches that head's rows of the same keys one tile ahead.
template <int kKeys, int kHeads>
MHA_BF16_TARGET void DotKeys(const uint16_t* k, int64_t key_stride, int64_t head_stride,
                             int64_t rows, int64_t head_rows, int64_t j, int64_t dim,
                             int64_t chunks, __mmask32 last, const uint16_t* q, __m512 scale,
                             int64_t rows_pad, float* st) {
  const int64_t q_stride = chunks * 32;
  for (int64_t r = 0; r < rows; r += kDotRows) {
    const int64_t g = r / head_rows;
    if (r == g * head_rows) {
      for (int64_t h = g; h < g + kHeads; ++h) {
        for (int64_t jj = j; jj < j + kKeys; ++jj) {
          const uint16_t* key = k + jj * key_stride + h * head_stride;
          PrefetchRow(RowAhead(key, kTileKeys, key_stride), dim);
        }
      }
    }
    DotBlock<kKeys, kHeads>(k + j * key_stride + g * head_stride, key_stride, head_stride,
                            chunks, last, q + r * q_stride, q_stride, scale, rows_pad,
                            st + j * rows_pad + r);
  }
}

// Keys outer and row blocks inner, so that K is read in address order (a key's
// rows of neighbouring head slots are adjacent in BSHD).
template <int kHeads>
MHA_BF16_TARGET void QkDecodeTile(const uint16_t* k, int64_t key_stride, int64_t head_stride,
                                  int64_t heads, int64_t head_rows, int64_t nk, int64_t dim,
                                  const uint16_t* q, float scale_f, int64_t rows_pad, float* st) {
  const int64_t chunks = DecodeQRowStride(dim) / 32;
  const int64_t tail = dim - (chunks - 1) * 32;
  const __mmask32 last = tail == 32 ? ~__mmask32{0} : (__mmask32{1} << tail) - 1;
  const __m512 scale = _mm512_set1_ps(scale_f);
  const int64_t rows = heads * head_rows;
  int64_t j = 0;
  for (; j + kBlockKeys <= nk; j += kBlockKeys) {
    DotKeys<kBlockKeys, kHeads>(k, key_stride, head_stride, rows, head_rows, j, dim, chunks,
                                last, q, scale, rows_pad, st);
  }
  for (; j < nk; ++j) {
    DotKeys<1, kHeads>(k, key_stride, head_stride, rows, head_rows, j, dim, chunks, last, q,
                       scale, rows_pad, st);
  }
}

}  // namespace

MHA_BF16_TARGET void QkDecodeTileBf16Avx512(const uint16_t* k, int64_t key_stride,
                                            int64_t head_stride, int64_t heads,
                                            int64_t head_rows, int64_t nk, int64_t dim,
                                            const uint16_t* q, float scale, int64_t rows_pad,
                                            float* st) {
  switch (HeadsPerDotBlock(head_rows)) {
    case 4:
      return QkDecodeTile<4>(k, key_stride, head_stride, heads, head_rows, nk, dim, q, scale,
                             rows_pad, st);
    case 2:
      return QkDecodeTile<2>(k, key_stride, head_stride, heads, head_rows, nk, dim, q, scale,
                             rows_pad, st);
    default:
      return QkDecodeTile<1>(k, key_stride, head_stride, heads, head_rows, nk, dim, q, scale,
                             rows_pad, st);
  }
}

#else  // no x86 GCC/Clang: never chosen (CpuHasAvx512Bf16() is false)

void QkDecodeTileBf16Avx512(const uint16_t*, int64_t, int64_t, int64_t, int64_t, int64_t,
                            int64_t, const uint16_t*, float, int64_t, float*) {}

#endif

}  // namespace mha
