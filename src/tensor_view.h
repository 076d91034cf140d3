// Element offsets into the strided views of an mha_problem.
#ifndef MHA_SRC_TENSOR_VIEW_H_
#define MHA_SRC_TENSOR_VIEW_H_

#include <cstdint>

#include "mha/mha.h"

namespace mha {

// Offset in elements of [a0, a1, a2, 0]: the start of one head_dim vector (Q/K/V/O)
// or of one row of keys (bias/probs).
inline int64_t RowOffset(const mha_tensor& t, int64_t a0, int64_t a1, int64_t a2) {
  return a0 * t.strides[0] + a1 * t.strides[1] + a2 * t.strides[2];
}

}  // namespace mha

#endif  // MHA_SRC_TENSOR_VIEW_H_
