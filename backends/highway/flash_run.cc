#include "flash_run.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "flash_rows.h"
#include "mha/kit/tensor_view.h"

namespace mha {
namespace {

// Combines the splits of row r of (b, kv head, q block) `base_item` with an
// exact log-sum-exp merge in split order, then writes its out and lse.
void MergeSplitsOfRow(const FlashPlan& plan, int64_t base_item, int64_t r) {
  const mha_problem& p = *plan.p;
  const ItemCoords c = DecodeItem(plan, base_item * plan.num_splits);
  if (r >= c.rows) return;
  const auto [i, h, real] = RowOf(plan, c, r);
  if (!real) return;
  auto row_of = [&](int64_t s) {
    return plan.partials +
           ((base_item * plan.num_splits + s) * plan.rows_pad + r) * plan.partial_stride;
  };
  const float kNegInf = -std::numeric_limits<float>::infinity();
  float max = kNegInf;
  for (int64_t s = 0; s < plan.num_splits; ++s) max = std::max(max, row_of(s)[0]);
  // Sums split by split into split 0's partial, each split weighted by
  // 2^(m_s - max) (one exp per split). A split that saw no key has sum 0 (and
  // max -inf): it weighs nothing, and its o is not read (0 times an Inf or NaN
  // there would be NaN).
  float* acc = row_of(0) + 2;
  const int64_t dv = p.v_head_dim;
  float sum = 0.0f;
  for (int64_t s = 0; s < plan.num_splits; ++s) {
    const float* part = row_of(s);
    const bool seen = max != kNegInf && part[1] > 0.0f;
    if (!seen) {
      if (s == 0) std::fill(acc, acc + dv, 0.0f);
      continue;
    }
    const float weight = std::exp2(part[0] - max);
    sum += weight * part[1];
    const float* o = part + 2;
    if (s == 0) {
      for (int64_t e = 0; e < dv; ++e) acc[e] = weight * o[e];
    } else {
      for (int64_t e = 0; e < dv; ++e) acc[e] += weight * o[e];
    }
  }
  StoreOutputRow(p, RowOffset(p.out, c.b, i, h), acc, sum > 0.0f ? 1.0f / sum : 0.0f);
  if (p.lse) {
    p.lse[(c.b * p.num_heads + h) * p.q_len + i] =
        sum > 0.0f ? (max + std::log2(sum)) * kLn2 : kNegInf;
  }
}

// The item run at step `k`. Items are numbered (b, kv head block, q block, split).
// Without splits they run last first: under a causal mask the last q blocks see
// the most keys, and starting the longest items first balances the threads. With
// splits the kv head block varies fastest, so that consecutive items read the
// neighbouring heads of the same keys (in BSHD these share pages and DRAM rows)
// rather than striding through one head. Decode items without splits run in
// order, ascending addresses: the lines the hardware prefetchers fetch past an
// item's rows belong to the next item (ascending measured faster than descending on
// decode-batch).
int64_t ItemAtStep(const FlashPlan& plan, int64_t k) {
  if (plan.num_splits == 1) return plan.few_rows ? k : plan.num_items - 1 - k;
  const int64_t heads = plan.kv_head_blocks;
  const int64_t g = k % heads;
  const int64_t split = k / heads % plan.num_splits;
  const int64_t qb = k / heads / plan.num_splits % plan.num_q_blocks;
  const int64_t b = k / heads / plan.num_splits / plan.num_q_blocks;
  return ((b * heads + g) * plan.num_q_blocks + qb) * plan.num_splits + split;
}

}  // namespace

int64_t NextItemOfThread(const FlashPlan& plan, int64_t item) {
  const int64_t unit = plan.unit_q_blocks;
  int64_t step = plan.num_items - item;  // the step after this item's
  if (step % unit == 0) step += (plan.p->num_threads - 1) * unit;
  return step < plan.num_items ? plan.num_items - 1 - step : -1;
}

void RunFlash(const FlashPlan& plan, FlashItemFn item_fn, float* scratch) {
  const int64_t num_items = plan.num_items;
  const int64_t base_items = num_items / plan.num_splits;
  const bool merge = plan.num_splits > 1;
  // A small call runs on the calling thread: no fork/join cost.
  const int threads = static_cast<int>(std::min<int64_t>(plan.p->num_threads, num_items));
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    float* mine = scratch + omp_get_thread_num() * plan.scratch_floats;
    if (plan.pack_kv) {
      // The workspace outlives the call: what it holds packed is another call's.
      int64_t* owner = CarveScratch(plan, mine).pack_owner;
      owner[0] = owner[1] = -1;
    }
    const int64_t unit = plan.unit_q_blocks;
#pragma omp for schedule(dynamic, unit)
    for (int64_t k = 0; k < num_items; ++k) item_fn(plan, ItemAtStep(plan, k), mine);
    if (merge) {
      const int64_t rows = plan.rows_pad;
#pragma omp for schedule(static)
      for (int64_t k = 0; k < base_items * rows; ++k) {
        MergeSplitsOfRow(plan, k / rows, k % rows);
      }
    }
  }
}

}  // namespace mha
