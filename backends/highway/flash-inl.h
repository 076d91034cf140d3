// The flash-attention driver of one work item for K/V element type T (float,
// hwy::bfloat16_t or hwy::float16_t): for each K/V tile of the item's key range,
// scores of every query row (QK^T), online softmax, P V; tiles no row sees are
// skipped. Memory: one scratch block per thread, O(rows x (tile + D + Dv)), plus
// with plan.pack_kv one head's packed K and V, Lk x (D + Dv) floats (at most
// kMaxPackBytes).
#if defined(MHA_BACKENDS_HIGHWAY_FLASH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_BACKENDS_HIGHWAY_FLASH_INL_H_
#undef MHA_BACKENDS_HIGHWAY_FLASH_INL_H_
#else
#define MHA_BACKENDS_HIGHWAY_FLASH_INL_H_
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "flash_bf16_avx512.h"
#include "flash_convert-inl.h"
#include "flash_decode-inl.h"
#include "flash_decode_bf16_avx512.h"
#include "flash_pack-inl.h"
#include "flash_plan.h"
#include "flash_pv-inl.h"
#include "flash_qk-inl.h"
#include "flash_rows.h"
#include "flash_run.h"
#include "flash_softmax-inl.h"
#include "hwy/highway.h"
#include "mha/kit/mask.h"
#include "mha/kit/tensor_view.h"

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

// On the vdpbf16ps path: the V pairs of packed keys from key t0 (even).
HWY_INLINE uint32_t* VPairsOfPack(const FlashPlan& plan, const FlashScratch& s, int64_t t0) {
  return reinterpret_cast<uint32_t*>(s.v_pack) + t0 / 2 * plan.dv_pad;
}

// With plan.pack_kv: packs the tiles of keys [j0, j0 + nk) of item c's kv head
// that this thread has not packed yet, and returns whether their V is finite: K
// and V widened to f32 (V zero-padded), or on the vdpbf16ps path K as bf16 rows
// and V in bf16 key pairs. Tiles are aligned at key 0, so every item of the head
// finds the same ones; keys past the batch's kv_lens are never visible and are
// not read.
template <typename T>
HWY_INLINE bool PackKvTiles(const FlashPlan& plan, const ItemCoords& c, const FlashScratch& s,
                            int64_t j0, int64_t nk) {
  const mha_problem& p = *plan.p;
  if (s.pack_owner[0] != c.b || s.pack_owner[1] != c.g) {
    std::fill(s.packed, s.packed + plan.pack_keys / kTileKeys, 0);
    s.pack_owner[0] = c.b;
    s.pack_owner[1] = c.g;
  }
  const int64_t keys = RowKeyCount(p, c.b);
  bool finite = true;
  for (int64_t t = j0 / kTileKeys; t * kTileKeys < j0 + nk; ++t) {
    if (s.packed[t] == 0) {
      const int64_t t0 = t * kTileKeys, tn = std::min(kTileKeys, keys - t0);
      const T* k = static_cast<const T*>(p.k.data) + RowOffset(p.k, c.b, t0, c.g);
      const T* v = static_cast<const T*>(p.v.data) + RowOffset(p.v, c.b, t0, c.g);
      bool v_finite;
      if (UseBf16Dot<T>(plan)) {
        uint16_t* k_rows = reinterpret_cast<uint16_t*>(s.k_pack) + t0 * plan.k_pad;
        for (int64_t j = 0; j < tn; ++j) {
          std::memcpy(k_rows + j * plan.k_pad, k + j * p.k.strides[1],
                      sizeof(uint16_t) * p.head_dim);
        }
        v_finite = PackVPairsBf16Avx512(reinterpret_cast<const uint16_t*>(v), p.v.strides[1],
                                        tn, p.v_head_dim, VPairsOfPack(plan, s, t0),
                                        plan.dv_pad);
      } else {
        RowsToF32(k, p.k.strides[1], tn, p.head_dim, s.k_pack + t0 * plan.k_pad, plan.k_pad,
                  plan.k_pad);
        v_finite = RowsToF32(v, p.v.strides[1], tn, p.v_head_dim, s.v_pack + t0 * plan.dv_pad,
                             plan.dv_pad, plan.dv_pad);
      }
      s.packed[t] = v_finite ? 1 : 2;
    }
    finite = finite && s.packed[t] == 1;
  }
  return finite;
}

// Raw dots of keys [j0, j0 + nk) with every active row, into s.st; returns
// whether their max per row is in s.tile_max (QkTile's paths). With
// plan.pack_kv, those keys are packed. `ahead`: the keys of the next tile;
// `v_ahead`: those whose V the f32 decode QK^T prefetches.
template <typename T, class D>
HWY_INLINE bool ScoreTile(D d, const FlashPlan& plan, const ItemCoords& c,
                          const FlashScratch& s, int64_t j0, int64_t nk, int64_t ahead,
                          int64_t v_ahead) {
  const mha_problem& p = *plan.p;
  const T* k = static_cast<const T*>(p.k.data) + RowOffset(p.k, c.b, j0, c.g);
  int64_t k_stride = p.k.strides[1];
  if (plan.few_rows && UseBf16Dot<T>(plan)) {
    QkDecodeTileBf16Avx512({reinterpret_cast<const uint16_t*>(k), k_stride, p.k.strides[2]},
                           plan.item_kv_heads, plan.head_rows, nk, p.head_dim,
                           reinterpret_cast<const uint16_t*>(s.qt), p.scale * kLog2e,
                           plan.rows_pad, ahead, s.st);
    return false;
  }
  if (plan.few_rows) {
    const T* v = static_cast<const T*>(p.v.data) + RowOffset(p.v, c.b, j0, c.g);
    QkDotTile(d, KvRows<T>{k, k_stride, p.k.strides[2]},
              KvRows<T>{v, p.v.strides[1], p.v.strides[2]}, plan.item_kv_heads, nk,
              p.head_dim, p.v_head_dim, s.qt, plan.head_rows, plan.rows_pad, v_ahead, s.st);
    return false;
  }
  if (UseBf16Dot<T>(plan)) {
    // Q is packed unscaled (a scaled bf16 Q would round again): the scale
    // applies to the f32 dots.
    const uint16_t* k_bf16 = reinterpret_cast<const uint16_t*>(k);
    if (plan.pack_kv) {
      k_bf16 = reinterpret_cast<const uint16_t*>(s.k_pack) + j0 * plan.k_pad;
      k_stride = plan.k_pad;
    }
    QkTileBf16Avx512(k_bf16, k_stride, nk, p.head_dim, reinterpret_cast<const uint32_t*>(s.qt),
                     plan.rows_pad, s.active, p.scale * kLog2e, s.st, s.tile_max);
    return true;
  }
  // K as f32 rows: packed, read in place (f32), or widened into s.kt. One call
  // site of QkTile keeps the item's code small.
  const float* k_f32 = reinterpret_cast<const float*>(k);
  int64_t k_f32_stride = k_stride;
  if (plan.pack_kv) {
    k_f32 = s.k_pack + j0 * plan.k_pad;
    k_f32_stride = plan.k_pad;
  } else if (!std::is_same<T, float>::value) {
    RowsToF32(k, k_stride, nk, p.head_dim, s.kt, p.head_dim, p.head_dim);
    k_f32 = s.kt;
    k_f32_stride = p.head_dim;
  }
  QkTile(d, k_f32, k_f32_stride, nk, p.head_dim, s.qt, plan.rows_pad, s.active, s.st,
         s.tile_max);
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
      if (plan.pack_kv) PackKvTiles<T>(plan, c, s, j0, nk);
      const bool max_known = ScoreTile<T>(d, plan, c, s, j0, nk, 0, 0);
      for (int64_t r = 0; r < plan.rows_pad; r += n) {
        if (AnyActive(s.active + r, n)) {
          ScoreChunk(d, p, s, plan.rows_pad, r, j0, nk, max_known);
        }
      }
    }
    WriteProbsTile(plan, c, s, j0, nk);
  }
}

// P V of a prefill tile on vdpbf16ps (one kv head). A V tile that holds Inf or
// NaN takes the f32 path that sums only visible keys.
template <typename T, class D>
HWY_INLINE void PvTileBf16(D d, const FlashPlan& plan, const ItemCoords& c,
                           const FlashScratch& s, int64_t j0, int64_t nk, const T* v_tile,
                           bool packed_v_finite) {
  const mha_problem& p = *plan.p;
  uint32_t* vt_pairs = reinterpret_cast<uint32_t*>(s.vt);
  const uint32_t* vp = plan.pack_kv ? VPairsOfPack(plan, s, j0) : vt_pairs;
  const bool finite =
      plan.pack_kv ? packed_v_finite
                   : PackVPairsBf16Avx512(reinterpret_cast<const uint16_t*>(v_tile),
                                          p.v.strides[1], nk, p.v_head_dim, vt_pairs, plan.dv_pad);
  if (!finite) {
    RowsToF32(v_tile, p.v.strides[1], nk, p.v_head_dim, s.vt, plan.dv_pad, plan.dv_pad);
    RescaleRows(d, s.active, s.alpha, c.rows, s.o, plan.dv_pad);
    PvTileVisibleOnly(d, s, 0, c.rows, plan.rows_pad, j0, nk, s.vt, plan.dv_pad);
    return;
  }
  PackPPairsBf16Avx512(s.st, plan.rows_pad, nk);
  PvTileBf16Avx512(reinterpret_cast<const uint32_t*>(s.st), s.active, s.alpha, c.rows,
                   plan.rows_pad, vp, (nk + 1) / 2, plan.dv_pad, s.o);
}

// P V of a decode tile that every row sees whole, on vdpbf16ps, V read in place.
// As on the f32 decode path, every key of the tile is visible, so a non-finite V
// reaches only rows that see it.
HWY_INLINE void PvDecodeTileBf16(const FlashPlan& plan, const FlashScratch& s, int64_t nk,
                                 int64_t ahead, const uint16_t* v_tile) {
  const mha_problem& p = *plan.p;
  PackPPairsBf16Avx512(s.st, plan.rows_pad, nk);
  PvDecodeTileBf16Avx512({v_tile, p.v.strides[1], p.v.strides[2]}, plan.item_kv_heads,
                         plan.head_rows, nk, p.v_head_dim, reinterpret_cast<const uint32_t*>(s.st),
                         s.alpha, plan.rows_pad, ahead, s.o, plan.dv_pad);
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
  if (plan.few_rows && UseBf16Dot<T>(plan)) {
    PackQRowsBf16(plan, c, reinterpret_cast<uint16_t*>(s.qt), DecodeQRowStride(p.head_dim));
  } else if (plan.few_rows) {
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

  // Prefill items (unsplit: they write out themselves) prefetch their edges.
  const bool prefetch_edges = !plan.few_rows && plan.num_splits == 1;
  const int64_t next_item = prefetch_edges ? NextItemOfThread(plan, item) : -1;
  const ItemCoords next = DecodeItem(plan, std::max<int64_t>(next_item, 0));
  // Packed V pairs start at even keys: the vdpbf16ps path starts there too (a key
  // before the range is masked like any other the rows do not see).
  const bool prefill_pairs = !plan.few_rows && UseBf16Dot<T>(plan);
  const int64_t first_key = prefill_pairs ? keys.begin & ~int64_t{1} : keys.begin;
  const int64_t num_tiles = (keys.end - first_key + kTileKeys - 1) / kTileKeys;

  const T* v_base = static_cast<const T*>(p.v.data);
  for (int64_t j0 = first_key; j0 < keys.end; j0 += kTileKeys) {
    const int64_t nk = std::min(kTileKeys, keys.end - j0);
    if (prefetch_edges) {
      PrefetchEdgeRows(plan, c, next_item >= 0 ? &next : nullptr, (j0 - first_key) / kTileKeys,
                       num_tiles);
    }
    if (!MarkActiveRows(plan, s, j0, nk)) continue;
    const bool packed_v_finite = plan.pack_kv && PackKvTiles<T>(plan, c, s, j0, nk);
    // The next tile's keys in K and V, past this item's range too: on one thread
    // the next item is usually the next split of these rows.
    const int64_t ahead = std::clamp<int64_t>(p.kv_len - j0 - kTileKeys, 0, kTileKeys);
    const bool all_see_tile = plan.few_rows && AllRowsSeeTile(plan, c, s, j0, nk);
    // P V in place on f32 FMAs (PvDotTile) prefetches the next tile's V itself.
    const bool pv_dot = all_see_tile && !UseBf16Dot<T>(plan) && p.v_head_dim % n == 0;
    const bool max_known = ScoreTile<T>(d, plan, c, s, j0, nk, ahead, pv_dot ? 0 : ahead);
    for (int64_t r = 0; r < rp; r += n) {
      if (AnyActive(s.active + r, n)) {
        const auto tile_max = ScoreChunk(d, p, s, rp, r, j0, nk, max_known);
        OnlineSoftmaxChunk(d, s, rp, r, nk, tile_max);
      } else {
        ZeroChunk(d, s, rp, r, nk);
      }
    }
    const T* v_tile = v_base + RowOffset(p.v, c.b, j0, c.g);
    if (prefill_pairs) {
      PvTileBf16(d, plan, c, s, j0, nk, v_tile, packed_v_finite);
      continue;
    }
    if (all_see_tile && UseBf16Dot<T>(plan)) {
      PvDecodeTileBf16(plan, s, nk, ahead, reinterpret_cast<const uint16_t*>(v_tile));
      continue;
    }
    if (pv_dot) {
      PvDotTile(d, s.st, s.alpha, plan.item_kv_heads, plan.head_rows, rp,
                KvRows<T>{v_tile, p.v.strides[1], p.v.strides[2]}, nk, p.v_head_dim,
                plan.dv_pad, ahead, s.o);
      continue;
    }
    // Otherwise V is packed, or widened into a contiguous tile kv head by kv head:
    // its rows are strided by the other heads, and several passes over a strided
    // tile conflict in L1.
    for (int64_t g = 0; g < plan.item_kv_heads; ++g) {
      const int64_t r0 = g * plan.head_rows;
      const int64_t r1 = std::min(r0 + plan.head_rows, c.rows);
      const float* vt = plan.pack_kv ? s.v_pack + j0 * plan.dv_pad : s.vt;
      const bool finite =
          plan.pack_kv ? packed_v_finite
                       : RowsToF32(v_tile + g * p.v.strides[2], p.v.strides[1], nk,
                                   p.v_head_dim, s.vt, plan.dv_pad, plan.dv_pad);
      float* o = s.o + r0 * plan.dv_pad;
      if (finite) {
        PvTile(d, s.st + r0, s.active + r0, s.alpha + r0, r1 - r0, rp, vt, nk, plan.dv_pad, o);
      } else {
        RescaleRows(d, s.active + r0, s.alpha + r0, r1 - r0, o, plan.dv_pad);
        PvTileVisibleOnly(d, s, r0, r1, rp, j0, nk, vt, plan.dv_pad);
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
