// The scalar edges of a work item (no SIMD here): which query rows it holds and
// what each may see, Q rows for the kernels (the transposed packing is SIMD, in
// flash_pack-inl.h), and the final out / lse / probs.
// These touch O(rows x D) or O(rows x Dv) elements per item, against the
// O(rows x keys x D) of the kernels.
#ifndef MHA_BACKENDS_HIGHWAY_FLASH_ROWS_H_
#define MHA_BACKENDS_HIGHWAY_FLASH_ROWS_H_

#include <cstdint>

#include "flash_plan.h"
#include "mha/kit/mask.h"

namespace mha {

// A work item's place: batch b, kv heads [g, g + plan.item_kv_heads), query
// block, key split. Rows run kv head by kv head, plan.head_rows each (see RowOf).
struct ItemCoords {
  int64_t b, g, split;
  int64_t i0, num_q;  // first query and query count of the block
  int64_t rows;       // one past the last real row (padding rows lie between heads)
};

ItemCoords DecodeItem(const FlashPlan& plan, int64_t item);

// Row r of an item: query i of head h, or a padding row (real = false). Within a
// kv head, row k is query i0 + k / group of head g' * group + k % group.
struct RowPlace {
  int64_t i, h;
  bool real;
};

inline RowPlace RowOf(const FlashPlan& plan, const ItemCoords& c, int64_t r) {
  const int64_t kv_head = c.g + r / plan.head_rows, k = r % plan.head_rows;
  return {c.i0 + k / plan.group, kv_head * plan.group + k % plan.group,
          k < c.num_q * plan.group};
}

// Fills pos, slope, begin, end and bias_offset of every row (padding rows see no
// key), clipped to the item's key split; returns the union of the visible keys.
KeyRange SetupRows(const FlashPlan& plan, const ItemCoords& c, const FlashScratch& s);

// Marks the rows that see a key of [j0, j0 + nk); returns whether any does.
bool MarkActiveRows(const FlashPlan& plan, const FlashScratch& s, int64_t j0, int64_t nk);

// Whether every real row of the item sees every key of [j0, j0 + nk).
bool AllRowsSeeTile(const FlashPlan& plan, const ItemCoords& c, const FlashScratch& s,
                    int64_t j0, int64_t nk);

inline bool AnyActive(const int32_t* active, int64_t n) {
  for (int64_t r = 0; r < n; ++r) {
    if (active[r]) return true;
  }
  return false;
}

// dst[d * dst_stride] = scale * kLog2e * Q[offset + d] as f32 for d < head_dim
// (logits in base 2, see kLog2e). The transposed packing of whole row blocks is
// PackQ in flash_pack-inl.h.
void ScaledQRow(const mha_problem& p, int64_t offset, float* dst, int64_t dst_stride);
// q[r * D + d] = scale * kLog2e * Q[row r][d] as f32 for rows_pad rows; padding
// rows are zero.
void PackQRows(const FlashPlan& plan, const ItemCoords& c, float* q);
// The decode path's Q rows on vdpbf16ps (not scaled: bf16 Q stays exact):
// q[r * q_stride + d] = Q[row r][d] for rows_pad rows, zero past head_dim and in
// padding rows.
void PackQRowsBf16(const FlashPlan& plan, const ItemCoords& c, uint16_t* q, int64_t q_stride);
// Q as bf16 pairs for vdpbf16ps (not scaled: bf16 Q stays exact): word
// [t * rows_pad + r] holds Q[row r][2t, 2t+1].
void PackQPairs(const FlashPlan& plan, const ItemCoords& c, uint32_t* qt);

// Output row at element `offset` of p.out = o[e] * scale, e < Dv, in out's dtype.
void StoreOutputRow(const mha_problem& p, int64_t offset, const float* o, float scale);
// out = o / l and lse = (m + log2(l)) ln2; a row that saw no key gets zeros and
// -inf.
void WriteOutput(const FlashPlan& plan, const ItemCoords& c, const FlashScratch& s);
// The decode path: {m, l, o} of each row into plan.partials for the merge.
void WritePartials(const FlashPlan& plan, int64_t item, const ItemCoords& c,
                   const FlashScratch& s);
// Spreads the cache misses of the item edges over the tiles of item c: before
// tile t of num_tiles, asks for its share of c's output rows (to be written)
// and of the Q rows of `next` (the item this thread likely runs next; null for
// none). Q and out rows are strided by the other heads, which the hardware
// prefetchers do not follow: PackQ and WriteOutput otherwise stall on each row.
void PrefetchEdgeRows(const FlashPlan& plan, const ItemCoords& c, const ItemCoords* next,
                      int64_t t, int64_t num_tiles);
// probs[b, h, i, j0 + jj] = 2^(logit - m) / l from the final logits in st.
void WriteProbsTile(const FlashPlan& plan, const ItemCoords& c, const FlashScratch& s,
                    int64_t j0, int64_t nk);

}  // namespace mha

#endif  // MHA_BACKENDS_HIGHWAY_FLASH_ROWS_H_
