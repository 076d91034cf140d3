// The tile kernels of bf16 attention on vdpbf16ps (AVX512_BF16), which Highway
// 1.0.3 cannot emit: written with intrinsics in functions of their own target,
// called only under the AVX3_DL target after CpuHasAvx512Bf16(). Both products
// take bf16 pairs along their reduction axis: QK^T pairs of Q and K elements,
// P V pairs of keys (P rounded to bf16 to nearest even, as oneDNN and PyTorch
// round it; V packed in key pairs). Accumulation is f32.
#ifndef MHA_BACKENDS_HIGHWAY_FLASH_BF16_AVX512_H_
#define MHA_BACKENDS_HIGHWAY_FLASH_BF16_AVX512_H_

#include <cstdint>

namespace mha {

bool CpuHasAvx512Bf16();

// st[j * rows_pad + r] = scale * dot(K[j], Q[r]) for keys j < nk and the rows of
// every active group of 16, and each such row's max over the keys in
// tile_max[r]; k: bf16 rows (row stride k_stride, even dim), qt: bf16 pairs
// [dim / 2][rows_pad] (see PackQPairs).
void QkTileBf16Avx512(const uint16_t* k, int64_t k_stride, int64_t nk, int64_t dim,
                      const uint32_t* qt, int64_t rows_pad, const int32_t* active,
                      float scale, float* st, float* tile_max);

// vp[t * dv_pad + e] = V[2t][e] | V[2t + 1][e] << 16 for the pairs of keys
// [0, nk) (v: bf16 rows, row stride v_stride), zero past dv columns and for the
// missing key of an odd nk. Returns whether every element is finite.
bool PackVPairsBf16Avx512(const uint16_t* v, int64_t v_stride, int64_t nk, int64_t dv,
                          uint32_t* vp, int64_t dv_pad);

// In place: the probabilities st[j * rows_pad + r] (f32, keys j < nk) become bf16
// pairs pp[t * rows_pad + r] = P[2t][r] | P[2t + 1][r] << 16 (pp aliases st).
void PackPPairsBf16Avx512(float* st, int64_t rows_pad, int64_t nk);

// o[r] = alpha[r] o[r] + sum_j P[r][j] V[j] for rows [0, rows) (row stride
// dv_pad), over `pairs` key pairs of pp and vp as packed above; blocks of rows
// that see nothing of the tile (active 0) are skipped.
void PvTileBf16Avx512(const uint32_t* pp, const int32_t* active, const float* alpha,
                      int64_t rows, int64_t rows_pad, const uint32_t* vp, int64_t pairs,
                      int64_t dv_pad, float* o);

}  // namespace mha

#endif  // MHA_BACKENDS_HIGHWAY_FLASH_BF16_AVX512_H_
