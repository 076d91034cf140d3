#include "flash_plan.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "mha/kit/dtype.h"
#include "mha/kit/tensor_view.h"

namespace mha {
namespace {

// Query rows (heads of a group x positions) a work item aims for: enough that a
// K/V tile is reused many times, few enough that its scratch stays in L2.
constexpr int64_t kTargetRows = 64;
// The decode path splits keys only when there are fewer (b, kv head block, q
// block) items than this; the count depends on the shape alone, never on threads.
constexpr int64_t kMinItemsBeforeSplit = 16;
constexpr int64_t kSplitKeys = 256;

int64_t RoundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// The largest divisor of n that is a multiple of m and at most `limit` (m when
// none is; m divides n).
int64_t LargestDivisorAtMost(int64_t n, int64_t m, int64_t limit) {
  for (int64_t k = std::min(n, limit); k > m; --k) {
    if (n % k == 0 && k % m == 0) return k;
  }
  return m;
}

// Rows per kv head on the decode path: a block of kDotRows rows shares one kv
// head, or (1 or 2 rows per head, e.g. MHA) spans 4 or 2 whole heads. Returns
// the rows padded to kDotRows where neither fits.
int64_t DecodeHeadRows(int64_t rows, int64_t num_kv_heads) {
  const bool spans_heads = kDotRows % rows == 0 && num_kv_heads % (kDotRows / rows) == 0;
  return spans_heads ? rows : RoundUp(rows, kDotRows);
}

// Q blocks per unit: the largest divisor of num_q_blocks that still leaves 4
// units per thread for the dynamic schedule to balance.
int64_t UnitQBlocks(const FlashPlan& plan) {
  const int64_t min_units = 4 * std::max(1, plan.p->num_threads);
  return LargestDivisorAtMost(plan.num_q_blocks, 1, plan.num_items / min_units);
}

}  // namespace

FlashPlan MakeFlashPlan(const mha_problem& p, bool bf16_dot) {
  FlashPlan plan;
  plan.p = &p;
  plan.group = p.num_heads / p.num_kv_heads;
  plan.q_block = std::min(p.q_len, std::max<int64_t>(1, kTargetRows / plan.group));
  plan.num_q_blocks = (p.q_len + plan.q_block - 1) / plan.q_block;
  // The decode QK^T runs whole vectors along head_dim.
  plan.few_rows = plan.group * plan.q_block <= kFewRows && p.head_dim % kFloatAlign == 0;
  plan.head_rows = plan.group * plan.q_block;
  if (plan.few_rows) {
    plan.head_rows = DecodeHeadRows(plan.head_rows, p.num_kv_heads);
    plan.item_kv_heads = LargestDivisorAtMost(p.num_kv_heads, HeadsPerDotBlock(plan.head_rows),
                                              kTargetRows / plan.head_rows);
  }
  plan.kv_head_blocks = p.num_kv_heads / plan.item_kv_heads;
  plan.rows_pad = RoundUp(plan.item_kv_heads * plan.head_rows, kRowAlign);
  const int64_t base_items = p.batch * plan.kv_head_blocks * plan.num_q_blocks;
  plan.num_splits = 1;
  if (!p.probs && base_items < kMinItemsBeforeSplit && p.kv_len >= 2 * kSplitKeys) {
    plan.split_len = kSplitKeys;
    plan.num_splits = (p.kv_len + kSplitKeys - 1) / kSplitKeys;
  } else {
    plan.split_len = RoundUp(p.kv_len, kTileKeys);
  }
  plan.num_items = base_items * plan.num_splits;
  plan.dv_pad = RoundUp(p.v_head_dim, kFloatAlign);
  plan.partial_stride = 2 + plan.dv_pad;
  plan.bf16_dot = bf16_dot;

  const int64_t d_pad = RoundUp(p.head_dim, kFloatAlign);
  plan.k_pad = d_pad;
  plan.pack_keys = RoundUp(p.kv_len, kTileKeys);
  const int64_t pack_floats = plan.pack_keys * (d_pad + plan.dv_pad);
  const int64_t pack_bytes = pack_floats * static_cast<int64_t>(sizeof(float));
  const bool pack_fits =
      pack_bytes <= kPackBytesAnyThreads ||
      (pack_bytes <= kMaxPackBytes && pack_bytes * p.num_threads <= kMaxPackBytesAllThreads);
  if (!plan.few_rows && plan.num_splits == 1 && pack_fits) {
    // Units of 2 items share too little to repay copying K.
    const int64_t unit = UnitQBlocks(plan);
    plan.pack_kv = unit >= 4;
    plan.unit_q_blocks = plan.pack_kv ? unit : 1;
  }
  const int64_t rp = plan.rows_pad;
  plan.scratch_floats = d_pad * rp                 // qt
                        + kTileKeys * d_pad        // kt
                        + kTileKeys * plan.dv_pad  // vt
                        + kTileKeys * rp           // st
                        + rp * plan.dv_pad         // o
                        + 5 * rp                   // m, l, alpha, tile_max, slope
                        + 4 * rp                   // pos, begin, end, active (int32)
                        + 2 * rp;                  // bias_offset (int64)
  if (plan.pack_kv) {
    plan.scratch_floats += pack_floats                   // k_pack, v_pack
                           + 2 * 2                       // pack_owner (int64)
                           + plan.pack_keys / kTileKeys;  // packed (int32)
  }
  plan.scratch_floats = RoundUp(plan.scratch_floats, kFloatAlign);
  return plan;
}

FlashScratch CarveScratch(const FlashPlan& plan, float* base) {
  const int64_t d_pad = plan.k_pad;
  const int64_t rp = plan.rows_pad;
  float* next = base;
  auto take = [&next](int64_t n) {
    float* region = next;
    next += n;
    return region;
  };
  FlashScratch s;
  s.qt = take(d_pad * rp);
  s.kt = take(kTileKeys * d_pad);
  s.vt = take(kTileKeys * plan.dv_pad);
  s.st = take(kTileKeys * rp);
  s.o = take(rp * plan.dv_pad);
  s.m = take(rp);
  s.l = take(rp);
  s.alpha = take(rp);
  s.tile_max = take(rp);
  s.slope = take(rp);
  s.pos = reinterpret_cast<int32_t*>(take(rp));
  s.begin = reinterpret_cast<int32_t*>(take(rp));
  s.end = reinterpret_cast<int32_t*>(take(rp));
  s.active = reinterpret_cast<int32_t*>(take(rp));
  s.bias_offset = reinterpret_cast<int64_t*>(take(2 * rp));
  if (plan.pack_kv) {
    s.k_pack = take(plan.pack_keys * plan.k_pad);
    s.v_pack = take(plan.pack_keys * plan.dv_pad);
    s.pack_owner = reinterpret_cast<int64_t*>(take(2 * 2));
    s.packed = reinterpret_cast<int32_t*>(take(plan.pack_keys / kTileKeys));
  } else {
    s.k_pack = s.v_pack = nullptr;
    s.packed = nullptr;
    s.pack_owner = nullptr;
  }
  return s;
}

int64_t PartialFloats(const FlashPlan& plan) {
  if (plan.num_splits == 1) return 0;
  return plan.num_items * plan.rows_pad * plan.partial_stride;
}

}  // namespace mha
