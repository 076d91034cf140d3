// Addressing of an mha_linear_call, written once for every backend's GEMM epilogue:
// which rows exist, where element n of row (b, s) is stored, and its RoPE position.
#ifndef MHA_KIT_LINEAR_CALL_H_
#define MHA_KIT_LINEAR_CALL_H_

#include <cstdint>

#include "mha/backend.h"

namespace mha {

// Rows s < LinearRows(c, b) of batch row b are computed; the rest are not touched.
inline int64_t LinearRows(const mha_linear_call& c, int64_t b) {
  return c.seq_lens ? c.seq_lens[b] : c.seq;
}

// Element offset of x[b, s, 0].
inline int64_t InputOffset(const mha_linear_call& c, int64_t b, int64_t s) {
  return b * c.x_batch_stride + s * c.x_seq_stride;
}

// Element offset of y[b, s, n], n = h * head_dim + d.
inline int64_t OutputOffset(const mha_linear_call& c, int64_t b, int64_t s, int64_t n) {
  const int64_t row = s + (c.seq_offsets ? c.seq_offsets[b] : 0);
  return b * c.y_batch_stride + row * c.y_seq_stride + (n / c.head_dim) * c.y_head_stride +
         n % c.head_dim;
}

// The RoPE position of row (b, s).
inline int64_t RopePosition(const mha_linear_call& c, int64_t b, int64_t s) {
  return s + (c.positions ? c.positions[b] : 0);
}

}  // namespace mha

#endif  // MHA_KIT_LINEAR_CALL_H_
