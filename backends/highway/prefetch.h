// Software prefetches of K/V rows one tile before they are needed: K/V rows of
// one head are strided (the other heads lie between them), which the hardware
// prefetchers follow poorly. Issued a row at a time inside the loops, so that few
// are in flight at once (a burst of a whole tile overflows the miss buffers and
// is dropped); into L2 (prefetcht1), so that it does not evict the current tile
// from L1.
#ifndef MHA_BACKENDS_HIGHWAY_PREFETCH_H_
#define MHA_BACKENDS_HIGHWAY_PREFETCH_H_

#include <cstdint>

namespace mha {

// The row `rows` rows of `stride` elements after `row`, as an address to
// prefetch only: past the last tile it lies beyond the buffer, and where a dim
// of 1 carries a huge stride beyond any address, so it is computed in unsigned
// arithmetic, which wraps. A prefetch of any address is harmless.
// Both are always inlined: GCC 12 dropped the prefetches of these functions,
// compiled for the baseline target, from the Highway targets' loops that call them.
template <typename T>
__attribute__((always_inline)) inline const T* RowAhead(const T* row, int64_t rows,
                                                        int64_t stride) {
  const uintptr_t step = static_cast<uintptr_t>(rows) * static_cast<uintptr_t>(stride) *
                         static_cast<uintptr_t>(sizeof(T));
  return reinterpret_cast<const T*>(reinterpret_cast<uintptr_t>(row) + step);
}

template <typename T>
__attribute__((always_inline)) inline void PrefetchRow(const T* row, int64_t cols) {
  const uintptr_t bytes = reinterpret_cast<uintptr_t>(row);
  const int64_t size = cols * static_cast<int64_t>(sizeof(T));
  for (int64_t b = 0; b < size; b += 64) {
    __builtin_prefetch(reinterpret_cast<const void*>(bytes + static_cast<uintptr_t>(b)), 0, 2);
  }
}

}  // namespace mha

#endif  // MHA_BACKENDS_HIGHWAY_PREFETCH_H_
