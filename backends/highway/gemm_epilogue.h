// The GEMM epilogue, fused into the store of each C block (no SIMD here): bias,
// RoPE, conversion to y's dtype (round to nearest even) and the strided store of
// mha_linear_call (head layout, seq_offsets).
#ifndef MHA_BACKENDS_HIGHWAY_GEMM_EPILOGUE_H_
#define MHA_BACKENDS_HIGHWAY_GEMM_EPILOGUE_H_

#include <cstdint>

#include "gemm_layer.h"
#include "mha/backend.h"

namespace mha {

// Finishes c[0, count), the f32 sums of features [n0, n0 + count) of row (b, s), and
// stores them into y. With RoPE, [n0, n0 + count) holds whole heads and cos_sin is
// the row's table (rope_half cos, then rope_half sin). c is modified.
void StoreRow(const GemmLayer& layer, const mha_linear_call& call, int64_t b, int64_t s,
              int64_t n0, int64_t count, const float* cos_sin, float* c);

}  // namespace mha

#endif  // MHA_BACKENDS_HIGHWAY_GEMM_EPILOGUE_H_
