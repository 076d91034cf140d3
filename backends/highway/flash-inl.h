// The flash-attention driver of one work item for K/V element type T (float,
// hwy::bfloat16_t or hwy::float16_t): for each K/V tile of the item's key range,
// scores of every query row (QK^T), online softmax, P V; tiles no row sees are
// skipped. Memory: one scratch block per thread, O(rows x (tile + D + Dv)).
#if defined(MHA_BACKENDS_HIGHWAY_FLASH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_BACKENDS_HIGHWAY_FLASH_INL_H_
#undef MHA_BACKENDS_HIGHWAY_FLASH_INL_H_
#else
#define MHA_BACKENDS_HIGHWAY_FLASH_INL_H_
#endif

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "dot_bf16_avx512.h"
#include "flash_convert-inl.h"
#include "flash_decode-inl.h"
#include "flash_pack-inl.h"
#include "flash_plan.h"
#include "flash_pv-inl.h"
#include "flash_qk-inl.h"
#include "flash_rows.h"
#include "flash_softmax-inl.h"
#include "hwy/highway.h"
#include "tensor_view.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// vdpbf16ps runs only under the AVX3_DL target (the MHA_MAX_ISA=avx512_bf16 level)
// and when the plan found the CPU feature and bf16 Q and K.
template <typename T>
HWY_INLINE bool UseBf16Dot(const FlashPlan& plan) {
#if HWY_TARGET == HWY_AVX3_DL
  return std::is_same<T, hwy::bfloat16_t>::value && plan.bf16_dot;
#else
  (void)plan;
  return false;
#endif
}

// Raw dots of keys [j0, j0 + nk) with every active row, into s.st; returns
// whether their max per row is in s.tile_max (QkTile's paths).
template <typename T, class D>
HWY_INLINE bool ScoreTile(D d, const FlashPlan& plan, const ItemCoords& c,
                          const FlashScratch& s, int64_t j0, int64_t nk) {
  const mha_problem& p = *plan.p;
  const T* k = static_cast<const T*>(p.k.data) + RowOffset(p.k, c.b, j0, c.g);
  const int64_t k_stride = p.k.strides[1];
  if (plan.few_rows) {
    const T* v = static_cast<const T*>(p.v.data) + RowOffset(p.v, c.b, j0, c.g);
    QkDotTile(d, KvRows<T>{k, k_stride, p.k.strides[2]},
              KvRows<T>{v, p.v.strides[1], p.v.strides[2]}, plan.item_kv_heads, nk,
              p.head_dim, p.v_head_dim, s.qt, plan.head_rows, plan.rows_pad, s.st);
    return false;
  }
  if (UseBf16Dot<T>(plan)) {
    QkTileBf16Avx512(reinterpret_cast<const uint16_t*>(k), k_stride, nk, p.head_dim,
                     reinterpret_cast<const uint32_t*>(s.qt), plan.rows_pad, s.active,
                     s.st);
    return false;
  }
  if (std::is_same<T, float>::value) {
    QkTile(d, reinterpret_cast<const float*>(k), k_stride, nk, p.head_dim, s.qt,
           plan.rows_pad, s.active, s.st, s.tile_max);
  } else {
    RowsToF32(k, k_stride, nk, p.head_dim, s.kt, p.head_dim, p.head_dim);
    QkTile(d, s.kt, p.head_dim, nk, p.head_dim, s.qt, plan.rows_pad, s.active, s.st,
           s.tile_max);
  }
  return true;
}

// probs, recomputed tile by tile with the final m and l of every row.
template <typename T, class D>
HWY_INLINE void ProbsPass(D d, const FlashPlan& plan, const ItemCoords& c,
                          const FlashScratch& s) {
  const mha_problem& p = *plan.p;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t j0 = 0; j0 < p.kv_len; j0 += kTileKeys) {
    const int64_t nk = std::min(kTileKeys, p.kv_len - j0);
    if (MarkActiveRows(plan, s, j0, nk)) {
      const bool max_known = ScoreTile<T>(d, plan, c, s, j0, nk);
      for (int64_t r = 0; r < plan.rows_pad; r += n) {
        if (AnyActive(s.active + r, n)) {
          ScoreChunk(d, p, s, plan.rows_pad, r, j0, nk, !UseBf16Dot<T>(plan), max_known);
        }
      }
    }
    WriteProbsTile(plan, c, s, j0, nk);
  }
}

template <typename T>
void FlashItem(const FlashPlan& plan, int64_t item, float* scratch) {
  const mha_problem& p = *plan.p;
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  const int64_t rp = plan.rows_pad;
  const FlashScratch s = CarveScratch(plan, scratch);
  const ItemCoords c = DecodeItem(plan, item);
  const KeyRange keys = SetupRows(plan, c, s);
  if (plan.few_rows) {
    PackQRows(plan, c, s.qt);
  } else if (UseBf16Dot<T>(plan)) {
    PackQPairs(plan, c, reinterpret_cast<uint32_t*>(s.qt));
  } else {
    PackQ(plan, c, s.qt);
  }
  const float neg_inf = -std::numeric_limits<float>::infinity();
  std::fill(s.m, s.m + rp, neg_inf);
  std::fill(s.l, s.l + rp, 0.0f);
  std::fill(s.o, s.o + rp * plan.dv_pad, 0.0f);

  // Prefill items (unsplit: they write out themselves) prefetch their edges. With
  // items of equal cost under the dynamic schedule, this thread's next item is
  // the one num_threads steps on (items run last first).
  const bool prefetch_edges = !plan.few_rows && plan.num_splits == 1;
  const int64_t next_item = item - p.num_threads;
  const ItemCoords next = DecodeItem(plan, std::max<int64_t>(next_item, 0));
  const int64_t num_tiles = (keys.end - keys.begin + kTileKeys - 1) / kTileKeys;

  const T* v_base = static_cast<const T*>(p.v.data);
  for (int64_t j0 = keys.begin; j0 < keys.end; j0 += kTileKeys) {
    const int64_t nk = std::min(kTileKeys, keys.end - j0);
    if (prefetch_edges) {
      PrefetchEdgeRows(plan, c, next_item >= 0 ? &next : nullptr, (j0 - keys.begin) / kTileKeys,
                       num_tiles);
    }
    if (!MarkActiveRows(plan, s, j0, nk)) continue;
    const bool max_known = ScoreTile<T>(d, plan, c, s, j0, nk);
    for (int64_t r = 0; r < rp; r += n) {
      if (AnyActive(s.active + r, n)) {
        const auto tile_max =
            ScoreChunk(d, p, s, rp, r, j0, nk, !UseBf16Dot<T>(plan), max_known);
        OnlineSoftmaxChunk(d, s, rp, r, nk, tile_max);
      } else {
        ZeroChunk(d, s, rp, r, nk);
      }
    }
    const T* v_tile = v_base + RowOffset(p.v, c.b, j0, c.g);
    if (plan.few_rows && p.v_head_dim % n == 0 && AllRowsSeeTile(plan, c, s, j0, nk)) {
      PvDotTile(d, s.st, s.alpha, plan.item_kv_heads, plan.head_rows, rp,
                KvRows<T>{v_tile, p.v.strides[1], p.v.strides[2]}, nk, p.v_head_dim,
                plan.dv_pad, s.o);
      continue;
    }
    // Otherwise V is widened into a contiguous tile, kv head by kv head: its rows
    // are strided by the other heads, and several passes over a strided tile
    // conflict in L1.
    for (int64_t g = 0; g < plan.item_kv_heads; ++g) {
      const int64_t r0 = g * plan.head_rows;
      const int64_t r1 = std::min(r0 + plan.head_rows, c.rows);
      const bool finite = RowsToF32(v_tile + g * p.v.strides[2], p.v.strides[1], nk,
                                    p.v_head_dim, s.vt, plan.dv_pad, plan.dv_pad);
      float* o = s.o + r0 * plan.dv_pad;
      if (finite) {
        PvTile(d, s.st + r0, s.active + r0, s.alpha + r0, r1 - r0, rp, s.vt, nk, plan.dv_pad,
               o);
      } else {
        RescaleRows(d, s.active + r0, s.alpha + r0, r1 - r0, o, plan.dv_pad);
        PvTileVisibleOnly(d, s, r0, r1, rp, j0, nk, plan.dv_pad);
      }
    }
  }

  if (plan.num_splits > 1) {
    WritePartials(plan, item, c, s);
    return;
  }
  WriteOutput(plan, c, s);
  if (p.probs) ProbsPass<T>(d, plan, c, s);
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
