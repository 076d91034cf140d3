// FastExp2, the exp of the Highway backend's softmax, against std::exp2 in double
// over its whole domain (x <= 0), on the baseline target: the conformance grid
// sees its error only through sums of many terms. Claims checked: within 2 ulp
// where the result is a normal float, exactly 0 at and below -127 (so masked keys
// weigh nothing), exactly 1 at 0 (so an unchanged running max rescales by 1).
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "flash_exp-inl.h"
#include "hwy/aligned_allocator.h"
#include "hwy/highway.h"

namespace mha_test {
namespace {

namespace hn = hwy::HWY_NAMESPACE;

std::vector<float> FastExp2Of(const std::vector<float>& x) {
  const hn::ScalableTag<float> d;
  const size_t n = hn::Lanes(d);
  auto in = hwy::AllocateAligned<float>(n);
  auto out = hwy::AllocateAligned<float>(n);
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); i += n) {
    for (size_t k = 0; k < n; ++k) in[k] = i + k < x.size() ? x[i + k] : 0.0f;
    hn::Store(mha::HWY_NAMESPACE::FastExp2(d, hn::Load(d, in.get())), d, out.get());
    for (size_t k = 0; k < n && i + k < x.size(); ++k) y[i + k] = out[k];
  }
  return y;
}

double UlpError(float got, double want) {
  const float wantf = static_cast<float>(want);
  const double ulp = std::nextafter(wantf, std::numeric_limits<float>::infinity()) - wantf;
  return std::fabs(got - want) / ulp;
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
  const std::vector<float> y = FastExp2Of(x);
  double worst = 0;
  float worst_x = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp2(static_cast<double>(x[i]));
    if (want < std::numeric_limits<float>::min()) continue;  // flushed; see below
    const double err = UlpError(y[i], want);
    if (err > worst) worst = err, worst_x = x[i];
  }
  INFO("worst error " << worst << " ulp at x = " << worst_x);
  CHECK(worst <= 2.0);
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

}  // namespace
}  // namespace mha_test
