// The K or V rows of a work item's kv heads, read in place, and their prefetch
// one tile ahead. Plain C++ (no Highway), shared by the f32 decode kernels and
// the vdpbf16ps ones.
#ifndef MHA_BACKENDS_HIGHWAY_KV_ROWS_H_
#define MHA_BACKENDS_HIGHWAY_KV_ROWS_H_

#include <cstdint>

#include "flash_plan.h"
#include "prefetch.h"

namespace mha {

// Key j of head slot g at data + j * key_stride + g * head_stride (in BSHD, the
// heads of one key are adjacent, so a key's rows of all the item's heads are
// one contiguous run).
template <typename T>
struct KvRows {
  const T* data;
  int64_t key_stride, head_stride;
  const T* Row(int64_t j, int64_t g) const { return data + j * key_stride + g * head_stride; }
};

// Prefetches the rows (cols elements each) of head slots [h_begin, h_end) and
// keys [j_begin, j_end), one tile later. Always inlined, as prefetch.h's helpers.
template <typename T>
__attribute__((always_inline)) inline void PrefetchNextTileRows(const KvRows<T>& rows,
                                                                int64_t h_begin, int64_t h_end,
                                                                int64_t j_begin, int64_t j_end,
                                                                int64_t cols) {
  for (int64_t h = h_begin; h < h_end; ++h) {
    for (int64_t j = j_begin; j < j_end; ++j) {
      PrefetchRow(RowAhead(rows.Row(j, h), kTileKeys, rows.key_stride), cols);
    }
  }
}

}  // namespace mha

#endif  // MHA_BACKENDS_HIGHWAY_KV_ROWS_H_
