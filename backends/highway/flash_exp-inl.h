// 2^x for x <= 0, cheaper than hwy's Exp: the online softmax works in base 2
// (Q is packed scaled by scale * log2(e), so logits come out in units of log2)
// and only takes 2^ of differences to a running max, or of -inf for masked keys.
// Method: x = n + r with n = round(x) and |r| <= 1/2, exact in f32; 2^r by a
// degree-6 minimax polynomial (relative error 1.9e-9, about 1 ulp after f32
// rounding); 2^n by building the exponent bits. n is rounded with the
// 1.5 * 2^23 trick, which also yields its bits. Below, x is clamped to -127,
// where the bits of 2^n are those of +0: the result is exactly 0 (so 2^-inf =
// 0) instead of a subnormal. Against the natural-base exp this saves the two
// multiplies of the range reduction and two polynomial terms: the exp pass of
// the softmax runs on the same FMA pipes as QK^T and P V.
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
HWY_INLINE V FastExp2(D d, V x) {
  const hn::RebindToUnsigned<D> du;
  const V xc = hn::Max(x, hn::Set(d, -127.0f));
  // n = round(x): adding 1.5 * 2^23 leaves n in the low mantissa bits of t.
  const V magic = hn::Set(d, 12582912.0f);
  const V t = hn::Add(xc, magic);
  const V r = hn::Sub(xc, hn::Sub(t, magic));
  V poly = hn::Set(d, 1.5345812426e-4f);
  poly = hn::MulAdd(poly, r, hn::Set(d, 1.3399930904e-3f));
  poly = hn::MulAdd(poly, r, hn::Set(d, 9.6184890717e-3f));
  poly = hn::MulAdd(poly, r, hn::Set(d, 5.5503286421e-2f));
  poly = hn::MulAdd(poly, r, hn::Set(d, 2.4022646248e-1f));
  poly = hn::MulAdd(poly, r, hn::Set(d, 6.9314718246e-1f));
  poly = hn::MulAdd(poly, r, hn::Set(d, 1.0f));
  // 2^n: the bits of t shifted up put n in the exponent (its high bits fall off).
  const auto bits = hn::Add(hn::ShiftLeft<23>(hn::BitCast(du, t)), hn::Set(du, 127u << 23));
  return hn::Mul(poly, hn::BitCast(d, bits));
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
