// Which keys a query row may see. Causal, the sliding window and kv_lens each allow
// a contiguous range of keys, so their intersection is one range [begin, end).
// Positions follow FlashAttention's variable-length rule (docs/semantics.md).
#ifndef MHA_KIT_MASK_H_
#define MHA_KIT_MASK_H_

#include <algorithm>
#include <cstdint>

#include "mha/backend.h"

namespace mha {

struct KeyRange {
  int64_t begin = 0;
  int64_t end = 0;  // exclusive; begin >= end means no visible key
  bool empty() const { return begin >= end; }
};

// The row's key count n: kv_lens[b] when given, else Lk.
inline int64_t RowKeyCount(const mha_problem& p, int64_t b) {
  return p.kv_lens ? p.kv_lens[b] : p.kv_len;
}

// The row's query count m: q_lens[b] when given, else Lq; queries i >= m are padding.
inline int64_t RowQueryCount(const mha_problem& p, int64_t b) {
  return p.q_lens ? p.q_lens[b] : p.q_len;
}

// Bottom-right alignment within the row: query i sits at position i + (n - m).
inline int64_t QueryPosition(const mha_problem& p, int64_t b, int64_t i) {
  return i + RowKeyCount(p, b) - RowQueryCount(p, b);
}

// A padding query sees no key, so it gives zeros like any fully forbidden row.
inline KeyRange VisibleKeys(const mha_problem& p, int64_t b, int64_t i) {
  if (i >= RowQueryCount(p, b)) return KeyRange{};
  const int64_t pos = QueryPosition(p, b, i);
  KeyRange r{0, RowKeyCount(p, b)};
  if (p.window_left >= 0) r.begin = std::max(r.begin, pos - p.window_left);
  if (p.causal) r.end = std::min(r.end, pos + 1);
  if (p.window_right >= 0) r.end = std::min(r.end, pos + p.window_right + 1);
  return r;
}

}  // namespace mha

#endif  // MHA_KIT_MASK_H_
