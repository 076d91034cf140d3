// The Highway backend's own math against <cmath> in double, on the baseline
// target: the conformance grid sees their errors only through sums of many terms.
// FastExp2 (the softmax's exp), over its whole domain x <= 0: within 2 ulp where
// the result is a normal float, exactly 0 at and below -127 (so masked keys
// weigh nothing), exactly 1 at 0 (so an unchanged running max rescales by 1).
// SoftcapTanh: within 5.5 ulp, odd, exactly +-1 beyond 9, tanh(x) = x for a
// subnormal, NaN kept.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "flash_exp-inl.h"
#include "flash_tanh-inl.h"
#include "hwy/aligned_allocator.h"
#include "hwy/highway.h"

namespace mha_test {
namespace {

namespace hn = hwy::HWY_NAMESPACE;

// The helpers that call the kernels take the baseline target's attributes (NEON adds
// +crypto to the compiler's baseline), as the kernels do.
HWY_BEFORE_NAMESPACE();

// fn applied to x vector by vector, on the baseline target.
template <class Fn>
std::vector<float> Apply(Fn fn, const std::vector<float>& x) {
  const hn::ScalableTag<float> d;
  const size_t n = hn::Lanes(d);
  auto in = hwy::AllocateAligned<float>(n);
  auto out = hwy::AllocateAligned<float>(n);
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); i += n) {
    for (size_t k = 0; k < n; ++k) in[k] = i + k < x.size() ? x[i + k] : 0.0f;
    hn::Store(fn(d, hn::Load(d, in.get())), d, out.get());
    for (size_t k = 0; k < n && i + k < x.size(); ++k) y[i + k] = out[k];
  }
  return y;
}

std::vector<float> FastExp2Of(const std::vector<float>& x) {
  return Apply([](auto d, auto v) { return mha::HWY_NAMESPACE::FastExp2(d, v); }, x);
}

std::vector<float> SoftcapTanhOf(const std::vector<float>& x) {
  return Apply([](auto d, auto v) { return mha::HWY_NAMESPACE::SoftcapTanh(d, v); }, x);
}

HWY_AFTER_NAMESPACE();

double UlpError(float got, double want) {
  const float wantf = static_cast<float>(want);
  const double ulp = std::nextafter(wantf, std::numeric_limits<float>::infinity()) - wantf;
  return std::fabs(got - want) / ulp;
}

// The largest error in ulp of y[i] against want(x[i]) in double, over the x whose
// result is a normal float (smaller ones are the exact-value tests' business),
// and an x where it occurs.
struct WorstError {
  double ulp = 0;
  float x = 0;
};

template <class Want>
WorstError WorstUlpError(const std::vector<float>& x, const std::vector<float>& y, Want want) {
  WorstError worst;
  for (size_t i = 0; i < x.size(); ++i) {
    const double wanted = want(static_cast<double>(x[i]));
    if (std::fabs(wanted) < std::numeric_limits<float>::min()) continue;
    const double err = UlpError(y[i], wanted);
    if (err > worst.ulp) worst = {err, x[i]};
  }
  return worst;
}

TEST_CASE("highway: FastExp2 is within 2 ulp of exp2 on x <= 0", "[highway][exp]") {
  std::vector<float> x;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> wide(-126.0f, 0.0f), near0(-1.0f, 0.0f);
  for (int i = 0; i < 200000; ++i) x.push_back(wide(rng));
  for (int i = 0; i < 200000; ++i) x.push_back(near0(rng));
  // Both sides of the rounding of n (x = k + 1/2) and the smallest |x|.
  for (int k = -126; k <= 0; ++k) {
    for (float e : {-1e-6f, 0.0f, 1e-6f}) x.push_back(std::min(0.0f, k + 0.5f + e));
  }
  x.push_back(-std::numeric_limits<float>::denorm_min());
  const WorstError worst =
      WorstUlpError(x, FastExp2Of(x), [](double v) { return std::exp2(v); });
  INFO("worst error " << worst.ulp << " ulp at x = " << worst.x);
  CHECK(worst.ulp <= 2.0);
}

TEST_CASE("highway: FastExp2 is exactly 0 at and below -127 and exactly 1 at 0",
          "[highway][exp]") {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> y = FastExp2Of({-inf, -1e30f, -1000.0f, -127.0f, 0.0f, -0.0f});
  CHECK(y[0] == 0.0f);
  CHECK(y[1] == 0.0f);
  CHECK(y[2] == 0.0f);
  CHECK(y[3] == 0.0f);
  CHECK(y[4] == 1.0f);
  CHECK(y[5] == 1.0f);
}

TEST_CASE("highway: SoftcapTanh is within 5.5 ulp of tanh", "[highway][tanh]") {
  std::vector<float> x;
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> wide(-20.0f, 20.0f), near0(-1.0f, 1.0f);
  for (int i = 0; i < 400000; ++i) x.push_back(wide(rng));
  for (int i = 0; i < 200000; ++i) x.push_back(near0(rng));
  // Small magnitudes, where tanh(x) = x to f32 precision.
  for (float v = 1e-3f; v > 1e-37f; v *= 0.7f) {
    x.push_back(v);
    x.push_back(-v);
  }
  const WorstError worst =
      WorstUlpError(x, SoftcapTanhOf(x), [](double v) { return std::tanh(v); });
  INFO("worst error " << worst.ulp << " ulp at x = " << worst.x);
  CHECK(worst.ulp <= 5.5);
}

TEST_CASE("highway: SoftcapTanh is odd, +-1 beyond 9, and keeps zeros, subnormals, Inf and NaN",
          "[highway][tanh]") {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {9.0f, 9.5f, 1e30f, inf, 0.0f, 0.37f, 4.2f, 8.99f, 1e-40f};
  std::vector<float> both = x;
  for (float v : x) both.push_back(-v);
  both.push_back(nan);
  const std::vector<float> y = SoftcapTanhOf(both);
  const size_t n = x.size();
  for (size_t i = 0; i < n; ++i) {
    INFO("x = " << x[i]);
    CHECK(y[n + i] == -y[i]);
    CHECK(std::signbit(y[n + i]) != std::signbit(y[i]));
    CHECK(std::fabs(y[i]) <= 1.0f);
  }
  for (size_t i = 0; i < 4; ++i) CHECK(y[i] == 1.0f);
  CHECK(y[4] == 0.0f);
  CHECK(y[8] == 1e-40f);  // a subnormal: tanh(x) = x
  CHECK(std::isnan(y.back()));
}

}  // namespace
}  // namespace mha_test
