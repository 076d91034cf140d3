// Planning of the flash kernels (no SIMD here): how a problem is cut into work items
// and how much scratch each thread needs (flash_run.h runs them).
#ifndef MHA_BACKENDS_HIGHWAY_FLASH_PLAN_H_
#define MHA_BACKENDS_HIGHWAY_FLASH_PLAN_H_

#include <cstddef>
#include <cstdint>

#include "mha/backend.h"

namespace mha {

// Keys per K/V tile: each tile is converted once and serves every query row of a
// work item (all heads of the GQA group).
constexpr int64_t kTileKeys = 64;
// Query rows of a work item are padded to this (the widest f32 vector).
constexpr int64_t kRowAlign = 16;
// Items with at most this many rows per kv head (decode) use the dot-product
// kernels, which take rows in blocks of kDotRows: rows of one kv head, or of 2
// or 4 whole heads when a head has 2 or 1 rows.
constexpr int64_t kFewRows = 8;
constexpr int64_t kDotRows = 4;
// Kv heads one block of kDotRows rows spans, for head_rows rows per kv head (1,
// 2, or a multiple of kDotRows on the decode path): 4, 2 or 1.
constexpr int64_t HeadsPerDotBlock(int64_t head_rows) {
  return head_rows < kDotRows ? kDotRows / head_rows : 1;
}
// Work items of one (b, kv head) run in units of consecutive q blocks on one
// thread (chunks of the OpenMP loop). A unit packs the K and V rows its items
// see into contiguous f32 scratch once, tile by tile as they are first needed,
// instead of every item reading K and V rows strided by the other heads (BSHD)
// and widening V per tile. Only where one head's packed K
// and V fit kPackBytesAnyThreads, or kMaxPackBytes per thread and
// kMaxPackBytesAllThreads in all (so `long` packs on a few threads only).
constexpr int64_t kPackBytesAnyThreads = int64_t{2} << 20;
constexpr int64_t kMaxPackBytes = int64_t{8} << 20;
constexpr int64_t kMaxPackBytesAllThreads = int64_t{32} << 20;
// Floats per scratch region are rounded up to this (64 bytes).
constexpr int64_t kFloatAlign = 16;
// The softmax runs in base 2: scores, running maxes (FlashScratch::m, the
// partials' max) are natural logits times kLog2e, so that each exp is one 2^x.
// Q is packed scaled by scale * kLog2e; lse is converted back with kLn2.
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2 = 0.693147180559945309f;

struct FlashPlan {
  const mha_problem* p = nullptr;
  int64_t group = 1;         // query heads per kv head
  int64_t q_block = 1;       // query positions per work item
  int64_t item_kv_heads = 1;   // kv heads per work item (several on the decode path)
  int64_t kv_head_blocks = 1;  // Hkv / item_kv_heads
  int64_t head_rows = 0;     // rows per kv head: group * q_block (few_rows: padded to kDotRows)
  int64_t rows_pad = 0;      // item_kv_heads * head_rows rounded up to kRowAlign
  int64_t num_q_blocks = 0;
  int64_t num_splits = 1;    // key splits per (b, kv head block, q block); > 1: decode path
  int64_t split_len = 0;     // keys per split, a multiple of kTileKeys
  int64_t num_items = 0;     // B * kv_head_blocks * num_q_blocks * num_splits
  int64_t dv_pad = 0;        // Dv rounded up to kFloatAlign
  int64_t scratch_floats = 0;  // per thread
  // Decode path: per item and row, {max (log2 units), sum, unnormalised out[dv_pad]}.
  float* partials = nullptr;
  int64_t partial_stride = 0;  // floats per row of partials
  int64_t k_pad = 0;  // head_dim rounded up to kFloatAlign
  // Items pack K and V (see kMaxPackBytes): rows of k_pad and dv_pad floats,
  // pack_keys of them; units of unit_q_blocks items (1 without packing).
  bool pack_kv = false;
  int64_t pack_keys = 0;
  int64_t unit_q_blocks = 1;
  // Q and K are bf16 and the CPU has avx512_bf16: QK^T and P V use vdpbf16ps
  // (flash_bf16_avx512.h; decode items flash_decode_bf16_avx512.h).
  bool bf16_dot = false;
  // At most kFewRows query rows per kv head: the decode kernels read K and V in
  // place, key by key across the item's kv heads (each key's rows of neighbouring
  // heads are adjacent in memory, so the item reads its K/V in address order).
  bool few_rows = false;
};

// The per-thread scratch of a work item, carved from one aligned block.
struct FlashScratch {
  float* qt;      // Q as the item's kernels take it (flash_rows.h: PackQ, PackQPairs, PackQRows*)
  float* kt;      // [kTileKeys][D]: K tile as f32 (unused when K is read in place)
  float* vt;      // [kTileKeys][dv_pad]: V tile as f32, zero-padded
  float* st;      // [kTileKeys][rows_pad]: scores, then probabilities, transposed
  float* o;       // [rows_pad][dv_pad]: unnormalised output
  float* m;       // [rows_pad] running max, in units of log2 (see kLog2e)
  float* l;       // [rows_pad] running sum
  float* alpha;   // [rows_pad] rescale factor of the current tile
  float* tile_max;  // [rows_pad] max of the current tile's raw dots, from QkTile
  float* slope;   // [rows_pad] ALiBi slope of the row's head
  int32_t* pos;     // [rows_pad] query position p(i)
  int32_t* begin;   // [rows_pad] first visible key
  int32_t* end;     // [rows_pad] one past the last visible key
  int32_t* active;  // [rows_pad] 1 when the row sees a key of the current tile
  int64_t* bias_offset;  // [rows_pad] element offset of the row's bias row
  // With plan.pack_kv, the K and V rows of one (b, kv head), per tile of
  // kTileKeys keys from key 0: packed[t] is 0 until tile t is packed, then 1, or
  // 2 when its V holds Inf or NaN. pack_owner = {b, g} of the packed head, or
  // {-1, -1} before the call's first item on this thread.
  float* k_pack;        // [pack_keys][k_pad]
  float* v_pack;        // [pack_keys][dv_pad]
  int64_t* pack_owner;  // [2]
  int32_t* packed;      // [pack_keys / kTileKeys]
};

FlashPlan MakeFlashPlan(const mha_problem& p, bool bf16_dot);
FlashScratch CarveScratch(const FlashPlan& plan, float* base);

// Floats of partials the decode path needs (0 when it does not split).
int64_t PartialFloats(const FlashPlan& plan);

}  // namespace mha

#endif  // MHA_BACKENDS_HIGHWAY_FLASH_PLAN_H_
