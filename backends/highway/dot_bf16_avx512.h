// The QK^T microkernel on vdpbf16ps (AVX512_BF16), which Highway 1.0.3 cannot
// emit: written with intrinsics in a function of its own target, called only
// under the AVX3_DL target after CpuHasAvx512Bf16().
#ifndef MHA_BACKENDS_HIGHWAY_DOT_BF16_AVX512_H_
#define MHA_BACKENDS_HIGHWAY_DOT_BF16_AVX512_H_

#include <cstdint>

namespace mha {

bool CpuHasAvx512Bf16();

// st[j * rows_pad + r] = dot(K[j], Q[r]) for keys j < nk and the rows of every
// active group of 16; k: bf16 rows (row stride k_stride, even dim), qt: bf16 pairs
// [dim / 2][rows_pad] (see PackQPairs).
void QkTileBf16Avx512(const uint16_t* k, int64_t k_stride, int64_t nk, int64_t dim,
                      const uint32_t* qt, int64_t rows_pad, const int32_t* active,
                      float* st);

}  // namespace mha

#endif  // MHA_BACKENDS_HIGHWAY_DOT_BF16_AVX512_H_
