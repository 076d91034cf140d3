#include "flash_decode_bf16_avx512.h"

#include <algorithm>

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

// The dots of keys [j, j + kKeys) with every row, row block by row block. Each
// head's first block prefetches that head's K rows of the same keys one tile
// ahead (keys below `ahead` only: those of the next tile that exist).
template <int kKeys, int kHeads>
MHA_BF16_TARGET void DotKeys(const Bf16Rows& k, int64_t rows, int64_t head_rows, int64_t j,
                             int64_t dim, int64_t chunks, __mmask32 last, const uint16_t* q,
                             __m512 scale, int64_t rows_pad, int64_t ahead, float* st) {
  const int64_t q_stride = chunks * 32;
  for (int64_t r = 0; r < rows; r += kDotRows) {
    const int64_t g = r / head_rows;
    if (r == g * head_rows) {
      PrefetchNextTileRows(k, g, g + kHeads, j, std::min<int64_t>(j + kKeys, ahead), dim);
    }
    DotBlock<kKeys, kHeads>(k.Row(j, g), k.key_stride, k.head_stride, chunks, last,
                            q + r * q_stride, q_stride, scale, rows_pad, st + j * rows_pad + r);
  }
}

// Keys outer and row blocks inner, so that K is read in address order (a key's
// rows of neighbouring head slots are adjacent in BSHD).
template <int kHeads>
MHA_BF16_TARGET void QkDecodeTile(const Bf16Rows& k, int64_t heads, int64_t head_rows,
                                  int64_t nk, int64_t dim, const uint16_t* q, float scale_f,
                                  int64_t rows_pad, int64_t ahead, float* st) {
  const int64_t chunks = DecodeQRowStride(dim) / 32;
  const int64_t tail = dim - (chunks - 1) * 32;
  const __mmask32 last = tail == 32 ? ~__mmask32{0} : (__mmask32{1} << tail) - 1;
  const __m512 scale = _mm512_set1_ps(scale_f);
  const int64_t rows = heads * head_rows;
  int64_t j = 0;
  for (; j + kBlockKeys <= nk; j += kBlockKeys) {
    DotKeys<kBlockKeys, kHeads>(k, rows, head_rows, j, dim, chunks, last, q, scale, rows_pad,
                                ahead, st);
  }
  for (; j < nk; ++j) {
    DotKeys<1, kHeads>(k, rows, head_rows, j, dim, chunks, last, q, scale, rows_pad, ahead, st);
  }
}

// P V in the column order of unpacklo/unpackhi_epi16: for 32 columns of two
// keys' V rows, lane 4m + i of the lo pairs is column 8m + i and of the hi pairs
// column 8m + 4 + i. o is loaded into that order and stored back from it.
MHA_BF16_TARGET __m512i PairOrderIndex(int half) {
  alignas(64) int32_t idx[16];
  for (int lane = 0; lane < 16; ++lane) idx[lane] = 8 * (lane / 4) + 4 * half + lane % 4;
  return _mm512_load_si512(idx);
}
MHA_BF16_TARGET __m512i ColumnOrderIndex(int half) {
  alignas(64) int32_t idx[16];
  for (int lane = 0; lane < 16; ++lane) {
    const int col = 16 * half + lane;
    idx[lane] = (col % 8 < 4 ? 0 : 16) + 4 * (col / 8) + col % 4;
  }
  return _mm512_load_si512(idx);
}

// Rows [0, 4) of o, columns [0, kChunks * 32): o = alpha o + sum over key pairs
// of P V, the rows spanning kHeads head slots whose V rows start head_stride
// apart. Pairs are built in registers from two keys' V rows (a lone last key
// pairs with zeros), so V needs no copy. `cols` masks V's columns past dv and
// `o_lanes` o's past dv_pad, per chunk. Each pair asks for its head slots' V
// lines of this column block `ahead_keys` keys ahead: kTileKeys, or 0 (lines it
// has read) where no tile follows, which costs fewer registers than a test per
// key. Not inlined and the pair loop a do-while, so that GCC keeps the
// accumulators in registers.
template <int kChunks, int kHeads>
__attribute__((noinline)) MHA_BF16_TARGET void PvDecodeBlock(
    const uint16_t* v, int64_t key_stride, int64_t head_stride, int64_t nk,
    const __mmask32* cols, const __mmask16* o_lanes, const uint32_t* pp, int64_t rows_pad,
    const float* alpha, int64_t ahead_keys, float* o, int64_t dv_pad) {
  constexpr int kRowsPerHead = kDotRows / kHeads;
  __m512 acc[kDotRows][kChunks][2];
  for (int r = 0; r < kDotRows; ++r) {
    const __m512 a = _mm512_set1_ps(alpha[r]);
    for (int c = 0; c < kChunks; ++c) {
      const float* row = o + r * dv_pad + c * 32;
      const __m512 o0 = _mm512_mul_ps(a, _mm512_maskz_loadu_ps(o_lanes[2 * c], row));
      const __m512 o1 = _mm512_mul_ps(a, _mm512_maskz_loadu_ps(o_lanes[2 * c + 1], row + 16));
      acc[r][c][0] = _mm512_permutex2var_ps(o0, PairOrderIndex(0), o1);
      acc[r][c][1] = _mm512_permutex2var_ps(o0, PairOrderIndex(1), o1);
    }
  }
  int64_t j = 0;
  do {
    const bool has_hi = j + 1 < nk;
    const uint16_t* lo_key = v + j * key_stride;
    // A lone last key's stride may point past any address.
    const uint16_t* hi_key = has_hi ? lo_key + key_stride : lo_key;
    for (int h = 0; h < kHeads; ++h) {
      const uint16_t* lo_row = lo_key + h * head_stride;
      const uint16_t* hi_row = hi_key + h * head_stride;
      for (int c = 0; c < kChunks; ++c) {
        __builtin_prefetch(RowAhead(lo_row + c * 32, ahead_keys, key_stride), 0, 2);
        __builtin_prefetch(RowAhead(hi_row + c * 32, ahead_keys, key_stride), 0, 2);
      }
      for (int c = 0; c < kChunks; ++c) {
        const __m512i a = _mm512_maskz_loadu_epi16(cols[c], lo_row + c * 32);
        const __m512i b = _mm512_maskz_loadu_epi16(has_hi ? cols[c] : 0, hi_row + c * 32);
        const __m512bh lo = (__m512bh)_mm512_unpacklo_epi16(a, b);
        const __m512bh hi = (__m512bh)_mm512_unpackhi_epi16(a, b);
        for (int r = h * kRowsPerHead; r < (h + 1) * kRowsPerHead; ++r) {
          const __m512bh p = (__m512bh)_mm512_set1_epi32(static_cast<int>(pp[r]));
          acc[r][c][0] = _mm512_dpbf16_ps(acc[r][c][0], lo, p);
          acc[r][c][1] = _mm512_dpbf16_ps(acc[r][c][1], hi, p);
        }
      }
    }
    pp += rows_pad;
    j += 2;
  } while (j < nk);
  for (int r = 0; r < kDotRows; ++r) {
    for (int c = 0; c < kChunks; ++c) {
      float* row = o + r * dv_pad + c * 32;
      const __m512 lo = acc[r][c][0], hi = acc[r][c][1];
      _mm512_mask_storeu_ps(row, o_lanes[2 * c],
                            _mm512_permutex2var_ps(lo, ColumnOrderIndex(0), hi));
      _mm512_mask_storeu_ps(row + 16, o_lanes[2 * c + 1],
                            _mm512_permutex2var_ps(lo, ColumnOrderIndex(1), hi));
    }
  }
}

// The lanes of a vector of 32 (16) elements starting at column `first` that lie
// before column `end`.
MHA_BF16_TARGET __mmask32 Lanes32(int64_t first, int64_t end) {
  if (first >= end) return 0;
  return end - first >= 32 ? ~__mmask32{0} : (__mmask32{1} << (end - first)) - 1;
}
MHA_BF16_TARGET __mmask16 Lanes16(int64_t first, int64_t end) {
  if (first >= end) return 0;
  return end - first >= 16 ? __mmask16(0xffff) : __mmask16((1u << (end - first)) - 1);
}

// Column blocks of 64, then one of 32 for the rest, for one block of rows.
template <int kHeads>
MHA_BF16_TARGET void PvDecodeRows(const uint16_t* v, int64_t key_stride, int64_t head_stride,
                                  int64_t nk, int64_t dv, const uint32_t* pp, int64_t rows_pad,
                                  const float* alpha, int64_t ahead_keys, float* o,
                                  int64_t dv_pad) {
  for (int64_t e = 0; e < dv; e += 64) {
    const __mmask32 cols[2] = {Lanes32(e, dv), Lanes32(e + 32, dv)};
    const __mmask16 o_lanes[4] = {Lanes16(e, dv_pad), Lanes16(e + 16, dv_pad),
                                  Lanes16(e + 32, dv_pad), Lanes16(e + 48, dv_pad)};
    if (e + 32 < dv) {
      PvDecodeBlock<2, kHeads>(v + e, key_stride, head_stride, nk, cols, o_lanes, pp, rows_pad,
                               alpha, ahead_keys, o + e, dv_pad);
    } else {
      PvDecodeBlock<1, kHeads>(v + e, key_stride, head_stride, nk, cols, o_lanes, pp, rows_pad,
                               alpha, ahead_keys, o + e, dv_pad);
    }
  }
}

template <int kHeads>
MHA_BF16_TARGET void PvDecodeTile(const Bf16Rows& v, int64_t heads, int64_t head_rows,
                                  int64_t nk, int64_t dv, const uint32_t* pp, const float* alpha,
                                  int64_t rows_pad, int64_t ahead, float* o, int64_t dv_pad) {
  for (int64_t r = 0; r < heads * head_rows; r += kDotRows) {
    const int64_t g = r / head_rows;
    // The first block of a head prefetches for the others.
    const int64_t ahead_keys = ahead > 0 && r == g * head_rows ? kTileKeys : 0;
    PvDecodeRows<kHeads>(v.Row(0, g), v.key_stride, v.head_stride, nk, dv, pp + r, rows_pad,
                         alpha + r, ahead_keys, o + r * dv_pad, dv_pad);
  }
}

}  // namespace

MHA_BF16_TARGET void QkDecodeTileBf16Avx512(const Bf16Rows& k, int64_t heads, int64_t head_rows,
                                            int64_t nk, int64_t dim, const uint16_t* q,
                                            float scale, int64_t rows_pad, int64_t ahead,
                                            float* st) {
  switch (HeadsPerDotBlock(head_rows)) {
    case 4: return QkDecodeTile<4>(k, heads, head_rows, nk, dim, q, scale, rows_pad, ahead, st);
    case 2: return QkDecodeTile<2>(k, heads, head_rows, nk, dim, q, scale, rows_pad, ahead, st);
    default: return QkDecodeTile<1>(k, heads, head_rows, nk, dim, q, scale, rows_pad, ahead, st);
  }
}

MHA_BF16_TARGET void PvDecodeTileBf16Avx512(const Bf16Rows& v, int64_t heads, int64_t head_rows,
                                            int64_t nk, int64_t dv, const uint32_t* pp,
                                            const float* alpha, int64_t rows_pad, int64_t ahead,
                                            float* o, int64_t dv_pad) {
  switch (HeadsPerDotBlock(head_rows)) {
    case 4:
      return PvDecodeTile<4>(v, heads, head_rows, nk, dv, pp, alpha, rows_pad, ahead, o, dv_pad);
    case 2:
      return PvDecodeTile<2>(v, heads, head_rows, nk, dv, pp, alpha, rows_pad, ahead, o, dv_pad);
    default:
      return PvDecodeTile<1>(v, heads, head_rows, nk, dv, pp, alpha, rows_pad, ahead, o, dv_pad);
  }
}

#else  // no x86 GCC/Clang: never chosen (CpuHasAvx512Bf16() is false)

void QkDecodeTileBf16Avx512(const Bf16Rows&, int64_t, int64_t, int64_t, int64_t,
                            const uint16_t*, float, int64_t, int64_t, float*) {}
void PvDecodeTileBf16Avx512(const Bf16Rows&, int64_t, int64_t, int64_t, int64_t, const uint32_t*,
                            const float*, int64_t, int64_t, float*, int64_t) {}

#endif

}  // namespace mha
