// The passes of our own between the oneDNN primitives: masks, bias and ALiBi on a
// chunk of logits; fixing up rows after the softmax (forbidden rows, lse, probs); and
// the dtype conversions for operands that oneDNN cannot read as they are.
//
// A chunk holds `rows` queries [row_begin, row_begin + rows) of one batch entry and
// query heads [head_begin, head_begin + heads) against keys
// [key_begin, key_begin + keys). Its logits, then its probabilities, are f32
// [heads, rows, keys] with rows `stride` apart (stride >= keys), in one buffer; the
// softmax runs over the whole stride, so the padding holds -inf, then 0.
#ifndef MHA_BACKENDS_ONEDNN_ROW_OPS_H_
#define MHA_BACKENDS_ONEDNN_ROW_OPS_H_

#include <cstdint>

#include "mha/backend.h"
#include "mha/kit/mask.h"

namespace mha {
namespace onednn {

struct Chunk {
  int64_t batch = 0;
  int64_t row_begin = 0, rows = 0;
  int64_t head_begin = 0, heads = 0;
  int64_t key_begin = 0, keys = 0;
  int64_t stride = 0;                 // scores row stride, >= keys
  const KeyRange* visible = nullptr;  // [rows]: absolute key ranges of each query
};

// Before the softmax: when `mask`, adds bias and ALiBi to the visible logits and
// sets the others to -inf; always sets the row padding to -inf and writes each row's largest
// visible logit (NaN never wins, as in the reference; NaN for a row of only NaN and
// -inf, which the softmax makes a NaN row) to row_max[heads * rows].
void PrepareRows(const mha_problem& p, const Chunk& c, bool mask, float* scores, float* row_max,
                 int num_threads);

// After the softmax (in place): zeroes rows with no visible key or whose visible
// logits are all -inf (the softmax gives NaN there), writes lse and the caller's probs
// when asked.
void FinishRows(const mha_problem& p, const Chunk& c, float* probs, const float* row_max,
                int num_threads);

// Whether n contiguous elements of `dtype` at `row` hold no Inf or NaN.
bool RowFinite(const void* row, mha_dtype dtype, int64_t n);

// Writes what a chunk with no visible key at all gives: out 0, lse -inf, probs 0.
void WriteForbiddenChunk(const mha_problem& p, const Chunk& c);

// A [rows, heads, dim] block of a strided tensor, `base` at its first element.
struct Block {
  void* base;
  mha_dtype dtype;
  int64_t row_stride, head_stride;  // in elements; the dim stride is 1
};

// Copies a block into `dst` [heads, head_rows, dim] (rows of it written, head_rows >=
// rows), head-major so that each head's rows are contiguous for the matmuls: as f32
// (widening is exact), or as bf16 from bf16 (a copy). Returns whether every element
// is finite.
bool CopyBlock(const Block& src, int64_t rows, int64_t heads, int64_t dim, int64_t head_rows,
               void* dst, bool dst_bf16, int num_threads);

// Stores dense head-major f32 [heads, rows, dim] into a block, rounding to nearest even.
void StoreBlockFromF32(const float* src, int64_t rows, int64_t heads, int64_t dim, const Block& dst,
                       int num_threads);

// bf16 copy (round to nearest even) of `count` contiguous floats.
void ConvertToBf16(const float* src, int64_t count, uint16_t* dst, int num_threads);

}  // namespace onednn
}  // namespace mha

#endif  // MHA_BACKENDS_ONEDNN_ROW_OPS_H_
