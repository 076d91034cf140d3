// Element offsets into the strided views of an mha_problem.
#ifndef MHA_KIT_TENSOR_VIEW_H_
#define MHA_KIT_TENSOR_VIEW_H_

#include <cstdint>

#include "mha/mha.h"

namespace mha {

// Offset in elements of [a0, a1, a2, 0]: the start of one head_dim vector (Q/K/V/O)
// or of one row of keys (bias/probs).
inline int64_t RowOffset(const mha_tensor& t, int64_t a0, int64_t a1, int64_t a2) {
  return a0 * t.strides[0] + a1 * t.strides[1] + a2 * t.strides[2];
}

// A contiguous [d0, d1, d2, d3] view of data, row-major.
inline mha_tensor ContiguousView(void* data, mha_dtype dtype, int64_t d0, int64_t d1,
                                 int64_t d2, int64_t d3) {
  return mha_tensor{data, dtype, {d0, d1, d2, d3}, {d1 * d2 * d3, d2 * d3, d3, 1}};
}

}  // namespace mha

#endif  // MHA_KIT_TENSOR_VIEW_H_
