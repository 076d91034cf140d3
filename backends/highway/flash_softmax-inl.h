// From raw dots to probabilities, one vector of query rows at a time (scores are
// transposed: st[j * rows_pad + r]), so max, sum and rescale need no horizontal
// reductions. ScoreChunk applies docs/semantics.md's formula in order: scale, softcap, bias,
// ALiBi, mask. OnlineSoftmaxChunk is the flash update, in base 2 (scores are
// logits times log2(e), see kLog2e):
//   m' = max(m, max_j s_j), alpha = 2^(m - m'), l' = alpha l + sum_j 2^(s_j - m').
#if defined(MHA_BACKENDS_HIGHWAY_FLASH_SOFTMAX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_BACKENDS_HIGHWAY_FLASH_SOFTMAX_INL_H_
#undef MHA_BACKENDS_HIGHWAY_FLASH_SOFTMAX_INL_H_
#else
#define MHA_BACKENDS_HIGHWAY_FLASH_SOFTMAX_INL_H_
#endif

#include <cstdint>
#include <limits>

#include "flash_exp-inl.h"
#include "flash_pack-inl.h"
#include "flash_plan.h"
#include "flash_tanh-inl.h"
#include "prefetch.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The bias of rows [c, c + Lanes) for keys j0 + [0, nk), transposed to the
// scores' layout: bias_t[jj * Lanes + lane], so that a key's bias is one vector.
// Rows that share one bias row (key padding, [B, 1, 1, Lk]) take broadcasts of
// it. Other bias rows are transposed 4 at a time where contiguous along keys,
// with each row's part of the next tile prefetched (the rows are Lk apart, which
// the hardware prefetchers do not follow), else copied element by element.
template <class D>
HWY_INLINE void TransposeBiasChunk(D d, const mha_problem& p, const FlashScratch& s, int64_t c,
                                   int64_t j0, int64_t nk, float* HWY_RESTRICT bias_t) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  const float* bias = static_cast<const float*>(p.bias.data);
  const int64_t key_stride = p.bias.strides[3];
  bool one_row = true;
  for (int64_t lane = 1; lane < n; ++lane) {
    one_row = one_row && s.bias_offset[c + lane] == s.bias_offset[c];
  }
  if (one_row) {
    const float* row = bias + s.bias_offset[c] + j0 * key_stride;
    for (int64_t jj = 0; jj < nk; ++jj) {
      hn::Store(hn::Set(d, row[jj * key_stride]), d, bias_t + jj * n);
    }
    return;
  }
  if (key_stride == 1 && n % kPackRows == 0) {
    for (int64_t k0 = 0; k0 < n; k0 += kPackRows) {
      const float* rows[kPackRows];
      for (int64_t k = 0; k < kPackRows; ++k) {
        rows[k] = bias + s.bias_offset[c + k0 + k] + j0;
        PrefetchRow(rows[k] + kTileKeys, kTileKeys);
      }
      TransposeRowsOf4(rows, 1.0f, nk, bias_t + k0, n);  // x 1 is exact, Inf and NaN too
    }
    return;
  }
  for (int64_t lane = 0; lane < n; ++lane) {
    const float* row = bias + s.bias_offset[c + lane] + j0 * key_stride;
    for (int64_t jj = 0; jj < nk; ++jj) bias_t[jj * n + lane] = row[jj * key_stride];
  }
}

// Final logits (times log2(e)) of rows [c, c + Lanes) for keys j0 + [0, nk), in
// place, from dots that already include scale * log2(e); returns their max per
// row. `max_known`: s.tile_max holds the dots' max.
template <class D>
HWY_INLINE hn::Vec<D> ScoreChunk(D d, const mha_problem& p, const FlashScratch& s,
                                 int64_t rows_pad, int64_t c, int64_t j0, int64_t nk,
                                 bool max_known) {
  using V = hn::Vec<D>;
  const hn::RebindToSigned<D> di;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  const V neg_inf = hn::Set(d, -std::numeric_limits<float>::infinity());
  bool need_mask = false;
  for (int64_t r = c; r < c + n; ++r) {
    need_mask = need_mask || s.begin[r] > j0 || s.end[r] < j0 + nk;
  }
  V max = neg_inf;
  float* col = s.st + c;
  if (!need_mask && p.softcap <= 0 && !p.has_bias && !p.alibi_slopes) {
    if (max_known) return hn::Load(d, s.tile_max + c);
    for (int64_t jj = 0; jj < nk; ++jj) max = hn::Max(max, hn::Load(d, col + jj * rows_pad));
    return max;
  }
  // Softcap, bias and ALiBi apply to natural logits: the dots go to natural
  // units and back. A mask alone needs no round trip.
  const bool natural = p.softcap > 0 || p.has_bias || p.alibi_slopes;
  const V ln2 = hn::Set(d, kLn2);
  const V log2e = hn::Set(d, kLog2e);
  const V cap = hn::Set(d, p.softcap);
  const V inv_cap = hn::Set(d, p.softcap > 0 ? 1.0f / p.softcap : 0.0f);
  const auto pos = hn::Load(di, s.pos + c);
  const V slope = hn::Load(d, s.slope + c);
  const auto begin = hn::Load(di, s.begin + c);
  const auto end = hn::Load(di, s.end + c);
  HWY_ALIGN float bias_t[kTileKeys * hn::MaxLanes(d)];
  if (p.has_bias) TransposeBiasChunk(d, p, s, c, j0, nk, bias_t);
  for (int64_t jj = 0; jj < nk; ++jj, col += rows_pad) {
    const int64_t j = j0 + jj;
    V x = hn::Load(d, col);
    if (natural) x = hn::Mul(x, ln2);
    if (p.softcap > 0) x = hn::Mul(cap, SoftcapTanh(d, hn::Mul(x, inv_cap)));
    if (p.has_bias) x = hn::Add(x, hn::Load(d, bias_t + jj * n));
    if (p.alibi_slopes) {
      // j - p(i) exactly in int32, then one rounding to f32.
      const auto distance = hn::Sub(hn::Set(di, static_cast<int32_t>(j)), pos);
      x = hn::MulAdd(slope, hn::ConvertTo(d, distance), x);
    }
    if (natural) x = hn::Mul(x, log2e);
    if (need_mask) {
      const auto jv = hn::Set(di, static_cast<int32_t>(j));
      const auto visible = hn::AndNot(hn::Lt(jv, begin), hn::Lt(jv, end));
      x = hn::IfThenElse(hn::RebindMask(d, visible), x, neg_inf);
    }
    hn::Store(x, d, col);
    max = hn::Max(max, x);
  }
  return max;
}

// Turns the logits of rows [c, c + Lanes) into 2^(s - m') in place and updates
// m, l and alpha. A row whose logits are all -inf keeps m = -inf, l = 0.
template <class D>
HWY_INLINE void OnlineSoftmaxChunk(D d, const FlashScratch& s, int64_t rows_pad,
                                   int64_t c, int64_t nk, hn::Vec<D> tile_max) {
  using V = hn::Vec<D>;
  const V neg_inf = hn::Set(d, -std::numeric_limits<float>::infinity());
  const V m_old = hn::Load(d, s.m + c);
  const V m_new = hn::Max(m_old, tile_max);
  // Subtracting 0 instead of -inf keeps 2^(-inf - m) = 0 rather than NaN.
  const V m_use = hn::IfThenZeroElse(hn::Eq(m_new, neg_inf), m_new);
  const V alpha = FastExp2(d, hn::Sub(m_old, m_use));
  V sum = hn::Zero(d);
  float* col = s.st + c;
  for (int64_t jj = 0; jj < nk; ++jj, col += rows_pad) {
    const V prob = FastExp2(d, hn::Sub(hn::Load(d, col), m_use));
    hn::Store(prob, d, col);
    sum = hn::Add(sum, prob);
  }
  hn::Store(hn::MulAdd(hn::Load(d, s.l + c), alpha, sum), d, s.l + c);
  hn::Store(m_new, d, s.m + c);
  hn::Store(alpha, d, s.alpha + c);
}

// Rows [c, c + Lanes) that see nothing of the tile contribute P = 0 and keep
// their o (alpha = 1).
template <class D>
HWY_INLINE void ZeroChunk(D d, const FlashScratch& s, int64_t rows_pad, int64_t c,
                          int64_t nk) {
  for (int64_t jj = 0; jj < nk; ++jj) hn::Store(hn::Zero(d), d, s.st + jj * rows_pad + c);
  hn::Store(hn::Set(d, 1.0f), d, s.alpha + c);
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
