// The GEMM tile kernels of each kind: the f32 FMA tiles compiled for every Highway
// target (picked by the instance's table slot, as the flash kernels are), and the
// vdpbf16ps tiles for AVX512_BF16.
#ifndef MHA_BACKENDS_HIGHWAY_GEMM_KERNELS_H_
#define MHA_BACKENDS_HIGHWAY_GEMM_KERNELS_H_

#include <cstddef>

#include "gemm_layer.h"

namespace mha {

// table_index: the HWY_EXPORT table slot of a compiled target (see TableIndex).
GemmKernels GemmKernelsF32(size_t table_index);
GemmTileShape GemmTileShapeF32(size_t table_index);

// Only where CpuHasAvx512Bf16().
GemmKernels GemmKernelsBf16Avx512();
GemmTileShape GemmTileShapeBf16Avx512();

}  // namespace mha

#endif  // MHA_BACKENDS_HIGHWAY_GEMM_KERNELS_H_
