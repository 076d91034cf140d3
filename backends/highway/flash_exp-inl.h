// exp(x) for x <= 0, cheaper than hwy's Exp: the online softmax only takes exp
// of differences to a running max, or of -inf for masked keys.
// Method (Cephes expf): x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-5 minimax
// polynomial, 2^n by building the exponent bits; n is rounded with the 1.5 * 2^23
// trick, which also yields its bits (2 ops fewer than round + convert). Relative
// error <= 2 ulp for -87.6 <= x <= 0. Below, x is clamped to -88, where n = -127 builds the bits of
// +0: the result is exactly 0 (so exp(-inf) = 0) instead of a subnormal.
#if defined(MHA_BACKENDS_HIGHWAY_FLASH_EXP_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_BACKENDS_HIGHWAY_FLASH_EXP_INL_H_
#undef MHA_BACKENDS_HIGHWAY_FLASH_EXP_INL_H_
#else
#define MHA_BACKENDS_HIGHWAY_FLASH_EXP_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class D, class V = hn::Vec<D>>
HWY_INLINE V FastExp(D d, V x) {
  const hn::RebindToUnsigned<D> du;
  const V xc = hn::Max(x, hn::Set(d, -88.0f));
  // n = round(x / ln2): adding 1.5 * 2^23 leaves n in the low mantissa bits of t.
  const V magic = hn::Set(d, 12582912.0f);
  const V t = hn::MulAdd(xc, hn::Set(d, 1.44269504088896341f), magic);
  const V n = hn::Sub(t, magic);
  V r = hn::NegMulAdd(n, hn::Set(d, 0.693359375f), xc);
  r = hn::NegMulAdd(n, hn::Set(d, -2.12194440e-4f), r);
  V poly = hn::Set(d, 1.9875691500e-4f);
  poly = hn::MulAdd(poly, r, hn::Set(d, 1.3981999507e-3f));
  poly = hn::MulAdd(poly, r, hn::Set(d, 8.3334519073e-3f));
  poly = hn::MulAdd(poly, r, hn::Set(d, 4.1665795894e-2f));
  poly = hn::MulAdd(poly, r, hn::Set(d, 1.6666665459e-1f));
  poly = hn::MulAdd(poly, r, hn::Set(d, 5.0000001201e-1f));
  const V r2 = hn::Mul(r, r);
  const V er = hn::Add(hn::MulAdd(poly, r2, r), hn::Set(d, 1.0f));
  // 2^n: the bits of t shifted up put n in the exponent (its high bits fall off).
  const auto bits = hn::Add(hn::ShiftLeft<23>(hn::BitCast(du, t)), hn::Set(du, 127u << 23));
  return hn::Mul(er, hn::BitCast(d, bits));
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
