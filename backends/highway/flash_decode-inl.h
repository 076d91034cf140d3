// QK^T and P V for work items with few query rows per kv head (decode: one new
// token per head of a GQA group), over several kv heads. Vectors run along
// head_dim and K and V are read in place, widened in registers: each element is
// loaded once, and each loaded vector serves kDotRows rows (the heads of the
// group) before the next is loaded.
#if defined(MHA_BACKENDS_HIGHWAY_FLASH_DECODE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_BACKENDS_HIGHWAY_FLASH_DECODE_INL_H_
#undef MHA_BACKENDS_HIGHWAY_FLASH_DECODE_INL_H_
#else
#define MHA_BACKENDS_HIGHWAY_FLASH_DECODE_INL_H_
#endif

#include <algorithm>
#include <cstdint>

#include "flash_convert-inl.h"
#include "flash_pv-inl.h"
#include "flash_rows.h"
#include "kv_rows.h"
#include "hwy/highway.h"
#include "vec_array-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Rows are taken kDotRows (flash_plan.h) at a time: 2 or 3 keys x 4 rows
// accumulators.
static_assert(kDotRows == 4, "StoreSumsOf4 reduces 4 rows");
// V rows per P V sub-block: few enough that the strided rows stay in L1 while
// every column block passes over them.
constexpr int64_t kPvSubKeys = 8;

#if HWY_TARGET == HWY_SCALAR
template <class D>
HWY_INLINE void StoreSumsOf4(D /*d*/, hn::Vec<D> a, hn::Vec<D> b, hn::Vec<D> c, hn::Vec<D> e,
                             float* HWY_RESTRICT out) {
  out[0] = hn::GetLane(a);
  out[1] = hn::GetLane(b);
  out[2] = hn::GetLane(c);
  out[3] = hn::GetLane(e);
}
#elif HWY_HAVE_SCALABLE
// Any vector length: 4 horizontal sums (SVE reduces in one instruction each).
template <class D>
HWY_INLINE void StoreSumsOf4(D d, hn::Vec<D> a, hn::Vec<D> b, hn::Vec<D> c, hn::Vec<D> e,
                             float* HWY_RESTRICT out) {
  out[0] = hn::GetLane(hn::SumOfLanes(d, a));
  out[1] = hn::GetLane(hn::SumOfLanes(d, b));
  out[2] = hn::GetLane(hn::SumOfLanes(d, c));
  out[3] = hn::GetLane(hn::SumOfLanes(d, e));
}
#else
// The sum of the 128-bit blocks of v.
template <class D>
HWY_INLINE auto AddBlocks(D d, hn::Vec<D> v) {
  if constexpr (hn::MaxLanes(d) > 4) {
    const hn::Half<D> dh;
    return AddBlocks(dh, hn::Add(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v)));
  } else {
    return v;
  }
}

// out[0..3] = the sums of the lanes of a, b, c, e: 4 dots reduced together by
// interleaving within blocks (9 ops), then one sum of blocks, rather than 4
// horizontal sums.
template <class D>
HWY_INLINE void StoreSumsOf4(D d, hn::Vec<D> a, hn::Vec<D> b, hn::Vec<D> c, hn::Vec<D> e,
                             float* HWY_RESTRICT out) {
  using V = hn::Vec<D>;
  const hn::Repartition<double, D> d64;
  // Per block: [a0+a2, b0+b2, a1+a3, b1+b3] and the same for c, e.
  const V ab = hn::Add(hn::InterleaveLower(d, a, b), hn::InterleaveUpper(d, a, b));
  const V ce = hn::Add(hn::InterleaveLower(d, c, e), hn::InterleaveUpper(d, c, e));
  const auto ab64 = hn::BitCast(d64, ab), ce64 = hn::BitCast(d64, ce);
  const V sums = hn::Add(hn::BitCast(d, hn::InterleaveLower(d64, ab64, ce64)),
                         hn::BitCast(d, hn::InterleaveUpper(d64, ab64, ce64)));
  hn::StoreU(AddBlocks(d, sums), hn::Full128<float>(), out);
}
#endif

// Keeps v in a register: compilers otherwise fold the load that produced it into
// every FMA that uses it, and loads, not FMAs, become the limit.
template <class V>
HWY_INLINE V InRegister(V v) {
#if HWY_TARGET == HWY_SCALAR || HWY_TARGET == HWY_EMU128  // no vector register to pin
  return v;
#elif HWY_HAVE_SCALABLE  // its register blocks are in memory (vec_array-inl.h)
  return v;
#elif HWY_ARCH_ARM
  asm("" : "+w"(v.raw));
  return v;
#elif HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  asm("" : "+v"(v.raw));
  return v;
#else
  asm("" : "+x"(v.raw));
  return v;
#endif
}

// st[j * rows_pad + r] = dot(K[j], q[r]) for kKeys keys and kDotRows rows of q
// (row-major, dim floats each); dim is a multiple of the vector length. The rows
// belong to kHeads kv heads, kDotRows / kHeads each; head h's K rows start at
// k + h * head_stride.
template <int kKeys, int kHeads, typename T, class D>
HWY_INLINE void QkDotBlock(D d, const T* HWY_RESTRICT k, int64_t k_stride, int64_t head_stride,
                           int64_t dim, const float* HWY_RESTRICT q, int64_t rows_pad,
                           float* HWY_RESTRICT st) {
  using V = hn::Vec<D>;
  constexpr int kRowsPerHead = kDotRows / kHeads;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  VecArray2<D, kKeys, kDotRows> acc;
  for (int m = 0; m < kKeys; ++m) {
    for (int r = 0; r < kDotRows; ++r) acc[m][r] = hn::Zero(d);
  }
  for (int64_t t = 0; t < dim; t += n) {
    // A head's K vectors are loaded at its first row: with one row per head they
    // are live for that row only, so 4 heads x 2 keys fit in the registers.
    VecArray<D, kKeys> kv;
    for (int r = 0; r < kDotRows; ++r) {
      if (r % kRowsPerHead == 0) {
        const T* kh = k + (r / kRowsPerHead) * head_stride + t;
        for (int m = 0; m < kKeys; ++m) kv[m] = LoadF32(d, kh + m * k_stride);
      }
      const V qv = InRegister(hn::Load(d, q + r * dim + t));
      for (int m = 0; m < kKeys; ++m) acc[m][r] = hn::MulAdd(qv, kv[m], acc[m][r]);
    }
  }
  for (int m = 0; m < kKeys; ++m) {
    StoreSumsOf4(d, acc[m][0], acc[m][1], acc[m][2], acc[m][3], st + m * rows_pad);
  }
}

// Raw dots of keys [j, j + kKeys) with every row: head slot g's rows are
// [g * head_rows, (g + 1) * head_rows) of q (row-major) and of st's columns; a
// block of kDotRows rows spans kHeads heads (kHeads = kDotRows / head_rows when
// head_rows < kDotRows: an MHA head has one row, and one block takes 4 heads).
// Before the first block of each head, prefetches that head's K rows of the
// same keys one tile ahead, and its V rows too for keys below v_ahead (those P V
// does not prefetch itself): a few at a time, since a burst of a whole row of
// heads overflows the miss buffers.
template <int kKeys, int kHeads, typename T, class D>
HWY_INLINE void QkDotKeys(D d, const KvRows<T>& k, const KvRows<T>& v, int64_t j,
                          int64_t heads, int64_t dim, int64_t dv, const float* HWY_RESTRICT q,
                          int64_t head_rows, int64_t rows_pad, int64_t v_ahead,
                          float* HWY_RESTRICT st) {
  for (int64_t r = 0; r < heads * head_rows; r += kDotRows) {
    const int64_t g = r / head_rows;
    if (r == g * head_rows) {
      // K's and V's rows interleaved key by key (PrefetchNextTileRows on each
      // in turn measured 1.5-2% slower on f32 decode from DRAM).
      for (int64_t h = g; h < g + kHeads; ++h) {
        for (int64_t jj = j; jj < j + kKeys; ++jj) {
          PrefetchRow(RowAhead(k.Row(jj, h), kTileKeys, k.key_stride), dim);
          if (jj < v_ahead) PrefetchRow(RowAhead(v.Row(jj, h), kTileKeys, v.key_stride), dv);
        }
      }
    }
    QkDotBlock<kKeys, kHeads>(d, k.Row(j, g), k.key_stride, k.head_stride, dim, q + r * dim,
                              rows_pad, st + j * rows_pad + r);
  }
}

// Raw dots of keys [0, nk) with every row (see QkDotKeys). Keys outer and heads
// inner, so that K is read in address order and a few keys serve every row
// block of their head from L1. Blocks of one head take 3 keys: 12 accumulators,
// 3 K vectors and q fill AVX2's 16 registers, and each q load serves 3 FMAs
// (faster than 2 keys on `decode` from DRAM, the same from cache). Blocks of
// several heads take 2 (their K vectors are loaded row by row).
template <int kHeads, typename T, class D>
HWY_INLINE void QkDotTileOf(D d, const KvRows<T>& k, const KvRows<T>& v, int64_t heads,
                            int64_t nk, int64_t dim, int64_t dv, const float* HWY_RESTRICT q,
                            int64_t head_rows, int64_t rows_pad, int64_t v_ahead,
                            float* HWY_RESTRICT st) {
  constexpr int kKeys = kHeads == 1 ? 3 : 2;
  int64_t j = 0;
  for (; j + kKeys <= nk; j += kKeys) {
    QkDotKeys<kKeys, kHeads>(d, k, v, j, heads, dim, dv, q, head_rows, rows_pad, v_ahead, st);
  }
  for (; j < nk; ++j) {
    QkDotKeys<1, kHeads>(d, k, v, j, heads, dim, dv, q, head_rows, rows_pad, v_ahead, st);
  }
}

// v_ahead: the keys of the next tile whose V rows to prefetch (0 where P V
// prefetches them: PvDotTile).
template <typename T, class D>
HWY_INLINE void QkDotTile(D d, const KvRows<T>& k, const KvRows<T>& v, int64_t heads,
                          int64_t nk, int64_t dim, int64_t dv, const float* HWY_RESTRICT q,
                          int64_t head_rows, int64_t rows_pad, int64_t v_ahead,
                          float* HWY_RESTRICT st) {
  switch (HeadsPerDotBlock(head_rows)) {
    case 4:
      return QkDotTileOf<4>(d, k, v, heads, nk, dim, dv, q, head_rows, rows_pad, v_ahead, st);
    case 2:
      return QkDotTileOf<2>(d, k, v, heads, nk, dim, dv, q, head_rows, rows_pad, v_ahead, st);
    default:
      return QkDotTileOf<1>(d, k, v, heads, nk, dim, dv, q, head_rows, rows_pad, v_ahead, st);
  }
}

// o = alpha o + P V over keys [0, nk) for every row (head slots and row blocks
// as in QkDotKeys), V read in place (dv a multiple of the vector length); the
// first sub-block rescales o as it loads it. Only for a tile that every row sees
// whole: no P is 0 by the mask, so no 0 x Inf can reach a row that never sees
// the key. Each head's first row block prefetches the V rows of its sub-block's
// keys one tile ahead (keys below `ahead`: those of the next tile that exist),
// spread over P V as K's are over QK^T (faster from DRAM than issuing them in
// QK^T beside K's).
template <int kHeads, typename T, class D>
HWY_INLINE void PvDotTileOf(D d, const float* HWY_RESTRICT pt, const float* alpha,
                            int64_t heads, int64_t head_rows, int64_t rows_pad,
                            const KvRows<T>& v, int64_t nk, int64_t dv, int64_t dv_pad,
                            int64_t ahead, float* HWY_RESTRICT o) {
  // 4 rows x 2 vectors of o, 2 vectors of V (PvBlock loads a head's V at its
  // first row) and P: 11 registers.
  constexpr int kVecs = 2;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t j = 0; j < nk; j += kPvSubKeys) {
    const int64_t nj = std::min(kPvSubKeys, nk - j);
    const float* p = pt + j * rows_pad;
    for (int64_t r = 0; r < heads * head_rows; r += kDotRows) {
      const int64_t g = r / head_rows;
      if (r == g * head_rows) {
        PrefetchNextTileRows(v, g, g + kHeads, j, std::min(j + nj, ahead), dv);
      }
      const T* vj = v.Row(j, g);
      float* o_rows = o + r * dv_pad;
      const float* a = j == 0 ? alpha + r : nullptr;
      int64_t e = 0;
      // Where the tile kernels' register block is wider (kPvVecs = 4 of the 32
      // AVX-512 registers), a dv of exactly that many vectors (head_dim 64)
      // takes one block: each P broadcast serves 4 FMAs and o is loaded once per
      // sub-block, not twice (widened bf16 1.04x from cache, 1.15x from DRAM).
      // Only there: at dv 8 vectors two such blocks measured 0.92-0.95x, and
      // several heads' V vectors per block would not fit.
      if constexpr (kHeads == 1 && kPvVecs > kVecs) {
        if (dv == kPvVecs * n) {
          PvBlock<kDotRows, kPvVecs, kHeads>(d, p + r, rows_pad, vj, v.key_stride, nj, o_rows,
                                             dv_pad, v.head_stride, a);
          e = dv;
        }
      }
      for (; e + kVecs * n <= dv; e += kVecs * n) {
        PvBlock<kDotRows, kVecs, kHeads>(d, p + r, rows_pad, vj + e, v.key_stride, nj,
                                         o_rows + e, dv_pad, v.head_stride, a);
      }
      if (e < dv) {
        PvBlock<kDotRows, 1, kHeads>(d, p + r, rows_pad, vj + e, v.key_stride, nj, o_rows + e,
                                     dv_pad, v.head_stride, a);
      }
    }
  }
}

template <typename T, class D>
HWY_INLINE void PvDotTile(D d, const float* HWY_RESTRICT pt, const float* alpha, int64_t heads,
                          int64_t head_rows, int64_t rows_pad, const KvRows<T>& v, int64_t nk,
                          int64_t dv, int64_t dv_pad, int64_t ahead, float* HWY_RESTRICT o) {
  switch (HeadsPerDotBlock(head_rows)) {
    case 4:
      return PvDotTileOf<4>(d, pt, alpha, heads, head_rows, rows_pad, v, nk, dv, dv_pad, ahead,
                            o);
    case 2:
      return PvDotTileOf<2>(d, pt, alpha, heads, head_rows, rows_pad, v, nk, dv, dv_pad, ahead,
                            o);
    default:
      return PvDotTileOf<1>(d, pt, alpha, heads, head_rows, rows_pad, v, nk, dv, dv_pad, ahead,
                            o);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
