// QK^T and P V of decode items on vdpbf16ps (see bf16_avx512_target.h): vectors along
// head_dim as in flash_decode-inl.h, bf16 Q rows against bf16 K rows read in
// place. One vdpbf16ps adds 32 products where an f32 FMA adds 16, and K needs no
// widening: decode items are bound by these instructions, not by memory, until
// the dots take half of them.
#ifndef MHA_BACKENDS_HIGHWAY_FLASH_DECODE_BF16_AVX512_H_
#define MHA_BACKENDS_HIGHWAY_FLASH_DECODE_BF16_AVX512_H_

#include <cstdint>

#include "kv_rows.h"

namespace mha {

// Bf16 elements per row of the Q rows QkDecodeTileBf16Avx512 takes: head_dim
// rounded up to a vector of 32, zero-padded.
int64_t DecodeQRowStride(int64_t head_dim);

// K or V of a tile read in place, as bf16 bits.
using Bf16Rows = KvRows<uint16_t>;

// st[j * rows_pad + r] = scale * dot(K[j] of row r's head, Q[r]) for keys j < nk
// and rows r < heads * head_rows. Row r belongs to head slot r / head_rows (rows
// of a slot are a multiple of 4, or 1 or 2 rows per slot with heads a multiple
// of 4 / head_rows). q: bf16 rows of DecodeQRowStride(dim) elements. Prefetches
// the K rows of the next tile's first `ahead` keys.
void QkDecodeTileBf16Avx512(const Bf16Rows& k, int64_t heads, int64_t head_rows, int64_t nk,
                            int64_t dim, const uint16_t* q, float scale, int64_t rows_pad,
                            int64_t ahead, float* st);

// o[r] = alpha[r] o[r] + sum_j P[r][j] V[j] of row r's head for rows r < heads *
// head_rows (head slots as above), keys j < nk, columns < dv (o's rows: dv_pad
// floats). pp: P as bf16 key pairs (PackPPairsBf16Avx512). V is read in place
// and paired in registers; every key counts, so the tile must be one that every
// row sees whole. Prefetches the V rows of the next tile where `ahead` > 0 (the
// keys it has).
void PvDecodeTileBf16Avx512(const Bf16Rows& v, int64_t heads, int64_t head_rows, int64_t nk,
                            int64_t dv, const uint32_t* pp, const float* alpha, int64_t rows_pad,
                            int64_t ahead, float* o, int64_t dv_pad);

}  // namespace mha

#endif  // MHA_BACKENDS_HIGHWAY_FLASH_DECODE_BF16_AVX512_H_
