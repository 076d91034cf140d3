// The row passes of the GEMM entry around its matmul: where the rows of a call sit
// in the dense [M, ...] operands, the gather of x into them, and the epilogue (RoPE,
// dtype conversion, the strided store into y).
#ifndef MHA_BACKENDS_ONEDNN_LINEAR_ROWS_H_
#define MHA_BACKENDS_ONEDNN_LINEAR_ROWS_H_

#include <cstdint>
#include <vector>

#include "mha/backend.h"

namespace mha {
namespace onednn {

// Row (b, s) of a call, s < LinearRows(c, b), is dense row first[b] + s.
struct DenseRows {
  std::vector<int64_t> first;  // [batch]
  int64_t count = 0;           // M
  bool every_row = true;       // no row of [batch, seq] is skipped
};

DenseRows MapRows(const mha_linear_call& c);

// Whether the rows of [batch, seq] sit at (b * seq + s) * width, as in a dense [M, width].
bool PackedRows(const mha_linear_call& c, int64_t batch_stride, int64_t seq_stride,
                int64_t width);

// Copies the rows of x (width k) into dst [M, k], as bf16 (rounded to nearest even) or f32.
void GatherInput(const mha_linear_call& c, const DenseRows& rows, int64_t k, bool to_bf16,
                 void* dst);

// Stores product [M, n] into y: RoPE (rotating product in place), conversion to y's
// dtype (round to nearest even), each row at its own offset.
void StoreOutput(const mha_linear_call& c, const DenseRows& rows, int64_t n, float* product);

}  // namespace onednn
}  // namespace mha

#endif  // MHA_BACKENDS_ONEDNN_LINEAR_ROWS_H_
