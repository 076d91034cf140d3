// mha_linear_*: every backend with a GEMM (the Highway one on every compiled and
// supported target) against a double-precision loop in this file, over random
// shapes, strided x and y, every weight / x / y dtype, with and without bias;
// determinism across thread counts; and the argument checks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "highway_targets.h"
#include "hwy/highway.h"
#include "hwy/targets.h"
#include "mha/kit/dtype.h"
#include "mha/mha.h"
#include "test_util.h"

namespace mha_test {
namespace {

// Values of one dtype, kept as their exact f32 values beside the stored bits.
class Buffer {
 public:
  Buffer(mha_dtype dtype, int64_t size, float fill = 0.0f)
      : dtype_(dtype), values_(static_cast<size_t>(size), fill),
        halves_(dtype == MHA_F32 ? 0 : static_cast<size_t>(size)) {
    for (int64_t i = 0; i < size; ++i) Set(i, fill);
  }
  void Set(int64_t i, float v) {
    mha::StoreFromF32(data(), dtype_, i, v);
    values_[static_cast<size_t>(i)] = mha::LoadAsF32(data(), dtype_, i);
  }
  float Get(int64_t i) const { return mha::LoadAsF32(data(), dtype_, i); }
  // The value Set stored (Get after the library wrote the buffer may differ).
  float Stored(int64_t i) const { return values_[static_cast<size_t>(i)]; }
  void* data() { return dtype_ == MHA_F32 ? static_cast<void*>(values_.data()) : halves_.data(); }
  const void* data() const {
    return dtype_ == MHA_F32 ? static_cast<const void*>(values_.data()) : halves_.data();
  }
  mha_dtype dtype() const { return dtype_; }
  int64_t size() const { return static_cast<int64_t>(values_.size()); }

 private:
  mha_dtype dtype_;
  std::vector<float> values_;
  std::vector<uint16_t> halves_;
};

const mha_dtype kDtypes[3] = {MHA_F32, MHA_BF16, MHA_F16};
constexpr float kSentinel = 7.0f;  // y's padding, which nothing may write

struct Case {
  int64_t batch, seq, heads, head_dim, k;  // N = heads * head_dim
  int64_t x_pad, y_head_pad, y_seq_pad;    // extra elements between rows / heads
  mha_dtype w_dtype, x_dtype, y_dtype;
  bool bias;
  uint64_t seed;

  int64_t n() const { return heads * head_dim; }
  int64_t rows() const { return batch * seq; }
  int64_t x_stride() const { return k + x_pad; }
  int64_t head_stride() const { return head_dim + y_head_pad; }
  int64_t y_stride() const { return heads * head_stride() + y_seq_pad; }
};

std::string Describe(const Case& c) {
  return "B=" + std::to_string(c.batch) + " L=" + std::to_string(c.seq) + " H=" +
         std::to_string(c.heads) + " D=" + std::to_string(c.head_dim) + " K=" +
         std::to_string(c.k) + " w=" + mha_dtype_name(c.w_dtype) + " x=" +
         mha_dtype_name(c.x_dtype) + " y=" + mha_dtype_name(c.y_dtype) +
         (c.bias ? " bias" : "") + " pads=" + std::to_string(c.x_pad) + "," +
         std::to_string(c.y_head_pad) + "," + std::to_string(c.y_seq_pad);
}

// The inputs of a case and the double-precision answer with its error bound.
struct Problem {
  Case c;
  Buffer w, x;
  std::vector<float> bias;
  std::vector<double> expected, bound;  // [rows, N]

  explicit Problem(const Case& cs)
      : c(cs), w(cs.w_dtype, cs.n() * cs.k), x(cs.x_dtype, cs.rows() * cs.x_stride(), 0.0f) {
    std::mt19937_64 rng(c.seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (int64_t i = 0; i < w.size(); ++i) w.Set(i, dist(rng));
    for (int64_t r = 0; r < c.rows(); ++r) {
      for (int64_t k = 0; k < c.k; ++k) x.Set(r * c.x_stride() + k, dist(rng));
      // Row padding is garbage that must not be read.
      for (int64_t k = c.k; k < c.x_stride(); ++k) x.Set(r * c.x_stride() + k, NAN);
    }
    if (c.bias) {
      for (int64_t n = 0; n < c.n(); ++n) bias.push_back(dist(rng));
    }
    // A backend may round x to bf16 for bf16 weights (relative error up to 2^-8
    // per product); otherwise products are exact or nearly and f32 sums are accurate
    // to well within 1e-5 of sum |x w| at these depths.
    const double tol = c.w_dtype == MHA_BF16 && c.x_dtype != MHA_BF16 ? 0x1p-8 : 1e-5;
    const double out_rounding = c.y_dtype == MHA_BF16 ? 0x1p-8 : c.y_dtype == MHA_F16 ? 0x1p-11 : 0;
    expected.resize(static_cast<size_t>(c.rows() * c.n()));
    bound.resize(expected.size());
    for (int64_t r = 0; r < c.rows(); ++r) {
      for (int64_t n = 0; n < c.n(); ++n) {
        double sum = c.bias ? bias[n] : 0.0, sum_abs = c.bias ? std::fabs(bias[n]) : 0.0;
        for (int64_t k = 0; k < c.k; ++k) {
          const double p = double{x.Stored(r * c.x_stride() + k)} * w.Stored(n * c.k + k);
          sum += p;
          sum_abs += std::fabs(p);
        }
        expected[r * c.n() + n] = sum;
        bound[r * c.n() + n] = tol * sum_abs + out_rounding * std::fabs(sum) + 1e-7;
      }
    }
  }
};

// y of a case, every element (padding too) first set to kSentinel.
struct Output {
  Buffer y;
  mha_tensor view{};
  explicit Output(const Case& c) : y(c.y_dtype, c.batch * c.seq * c.y_stride(), kSentinel) {
    view.data = y.data();
    view.dtype = c.y_dtype;
    const int64_t dims[4] = {c.batch, c.seq, c.heads, c.head_dim};
    const int64_t strides[4] = {c.seq * c.y_stride(), c.y_stride(), c.head_stride(), 1};
    std::copy(dims, dims + 4, view.dims);
    std::copy(strides, strides + 4, view.strides);
  }
};

mha_tensor InputView(Problem& p) {
  const Case& c = p.c;
  mha_tensor x{};
  x.data = p.x.data();
  x.dtype = c.x_dtype;
  const int64_t dims[4] = {c.batch, c.seq, 1, c.k};
  const int64_t strides[4] = {c.seq * c.x_stride(), c.x_stride(), c.k, 1};
  std::copy(dims, dims + 4, x.dims);
  std::copy(strides, strides + 4, x.strides);
  return x;
}

// Runs the case on ctx; false when the backend declines it (UNSUPPORTED).
bool Run(mha_context* ctx, Problem& p, Output* out) {
  mha_linear* linear = nullptr;
  const mha_status s = mha_linear_create(ctx, p.c.n(), p.c.k, p.c.w_dtype, p.w.data(),
                                         p.c.bias ? p.bias.data() : nullptr, &linear);
  if (s == MHA_ERR_UNSUPPORTED) return false;
  INFO(mha_last_error());
  REQUIRE(s == MHA_OK);
  mha_tensor x = InputView(p);
  const mha_status f = mha_linear_forward(linear, &x, &out->view);
  INFO(mha_last_error());
  CHECK(f == MHA_OK);
  mha_linear_destroy(linear);
  return true;
}

void Check(Problem& p, const Output& out) {
  const Case& c = p.c;
  int64_t bad = 0;
  for (int64_t r = 0; r < c.rows(); ++r) {
    for (int64_t i = 0; i < c.y_stride(); ++i) {
      const int64_t h = i / c.head_stride(), d = i % c.head_stride();
      const float got = out.y.Get(r * c.y_stride() + i);
      if (h >= c.heads || d >= c.head_dim) {
        if (got != kSentinel && bad++ < 5) FAIL_CHECK("padding written at row " << r << " " << i);
        continue;
      }
      const int64_t n = h * c.head_dim + d;
      const double want = p.expected[r * c.n() + n], err = std::fabs(got - want);
      if (!(err <= p.bound[r * c.n() + n]) && bad++ < 5) {
        FAIL_CHECK("row " << r << " n " << n << ": " << got << " vs " << want << " (bound "
                          << p.bound[r * c.n() + n] << ")");
      }
    }
  }
  CHECK(bad == 0);
}

// Sizes that cross every block and vector width: small ones, near multiples of 6,
// 8, 16 and 64, and a few up to `max`.
int64_t DrawSize(std::mt19937_64& rng, int64_t max) {
  const int64_t picks[] = {1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 63, 65, 97, 127, 129, 255, 257};
  std::uniform_int_distribution<int> which(0, 2);
  switch (which(rng)) {
    case 0: return picks[std::uniform_int_distribution<size_t>(0, 16)(rng) % 17];
    case 1: return std::uniform_int_distribution<int64_t>(1, 48)(rng);
    default: return std::uniform_int_distribution<int64_t>(1, max)(rng);
  }
}

std::vector<Case> RandomCases(uint64_t seed, int count) {
  std::mt19937_64 rng(seed);
  std::vector<Case> cases;
  while (static_cast<int>(cases.size()) < count) {
    Case c{};
    const int64_t rows = rng() % 3 == 0 ? 1 + static_cast<int64_t>(rng() % 8) : DrawSize(rng, 300);
    c.batch = rng() % 3 == 0 ? 1 + static_cast<int64_t>(rng() % 3) : 1;
    c.seq = std::max<int64_t>(1, rows / c.batch);
    const int64_t n = DrawSize(rng, 700);
    c.heads = n % 2 == 0 && rng() % 2 ? 2 : 1;
    c.head_dim = n / c.heads;
    c.k = DrawSize(rng, 700);
    if (c.rows() * c.n() * c.k > 12'000'000) continue;  // keep the f64 loop short
    c.x_pad = rng() % 2 ? static_cast<int64_t>(rng() % 5) : 0;
    c.y_head_pad = c.heads > 1 && rng() % 2 ? 3 : 0;
    c.y_seq_pad = rng() % 2 ? 2 : 0;
    c.w_dtype = kDtypes[rng() % 3];
    c.x_dtype = kDtypes[rng() % 3];
    c.y_dtype = kDtypes[rng() % 3];
    c.bias = rng() % 2;
    c.seed = rng();
    cases.push_back(c);
  }
  // Every weight x input x output dtype once, at sizes that need several blocks.
  for (int i = 0; i < 27; ++i) {
    cases.push_back({1, 23 + i, 2, 40 + 4 * i, 300 + 3 * i, 1, 2, 1, kDtypes[i / 9],
                     kDtypes[i / 3 % 3], kDtypes[i % 3], i % 2 == 0, seed + i});
  }
  // Large: several feature, depth and row blocks.
  cases.push_back({1, 64, 1, 1024, 1024, 0, 0, 0, MHA_F32, MHA_F32, MHA_F32, true, seed + 100});
  cases.push_back({2, 150, 8, 64, 520, 3, 0, 0, MHA_BF16, MHA_F32, MHA_BF16, true, seed + 101});
  cases.push_back({1, 200, 6, 128, 700, 0, 16, 0, MHA_BF16, MHA_BF16, MHA_F32, false, seed + 102});
  return cases;
}

std::vector<Problem>& Problems() {
  static std::vector<Problem> problems = [] {
    std::vector<Problem> all;
    for (const Case& c : RandomCases(/*seed=*/7, /*count=*/120)) all.emplace_back(c);
    return all;
  }();
  return problems;
}

void CheckBackend(mha_context* ctx, const std::string& label) {
  int declined = 0;
  for (Problem& p : Problems()) {
    INFO(label << ": " << Describe(p.c));
    Output out(p.c);
    if (!Run(ctx, p, &out)) {
      ++declined;
      continue;
    }
    Check(p, out);
  }
  if (declined > 0) WARN(label << " declined " << declined << " cases (MHA_ERR_UNSUPPORTED)");
}

TEST_CASE("linear: reference against the f64 loop", "[linear]") {
  ScopedContext ctx("reference");
  REQUIRE(ctx.status() == MHA_OK);
  CheckBackend(ctx.get(), "reference");
}

TEST_CASE("linear: highway on every target against the f64 loop", "[linear][highway]") {
  for (int64_t target : Targets()) {
    ScopedTarget scoped(target);
    ScopedContext ctx("highway");
    REQUIRE(ctx.status() == MHA_OK);
    const std::string isa = mha_context_isa(ctx.get());
    CHECK(isa == hwy::TargetName(target));
    CheckBackend(ctx.get(), "highway:" + isa);
  }
}

TEST_CASE("linear: onednn against the f64 loop", "[linear][onednn]") {
  if (!mha_backend_available("onednn")) {
    WARN("onednn is not available: " << mha_last_error());
    return;
  }
  ScopedContext ctx("onednn");
  REQUIRE(ctx.status() == MHA_OK);
  CheckBackend(ctx.get(), "onednn");
}

TEST_CASE("linear: highway is bitwise identical for 1 and 2 threads", "[linear][highway]") {
  const Case cases[] = {
      {1, 300, 1, 700, 650, 0, 0, 0, MHA_F32, MHA_F32, MHA_F32, true, 1},
      {2, 4, 4, 128, 1030, 0, 0, 0, MHA_BF16, MHA_F32, MHA_F32, false, 2},
      {1, 130, 12, 64, 768, 1, 0, 0, MHA_BF16, MHA_BF16, MHA_BF16, true, 3},
  };
  for (int64_t target : Targets()) {
    ScopedTarget scoped(target);
    ScopedContext ctx("highway");
    INFO("target " << hwy::TargetName(target));
    for (const Case& c : cases) {
      INFO(Describe(c));
      Problem p(c);
      Output one(c), two(c);
      REQUIRE(mha_context_set_num_threads(ctx.get(), 1) == MHA_OK);
      REQUIRE(Run(ctx.get(), p, &one));
      REQUIRE(mha_context_set_num_threads(ctx.get(), 2) == MHA_OK);
      REQUIRE(Run(ctx.get(), p, &two));
      const size_t bytes = static_cast<size_t>(one.y.size()) * (c.y_dtype == MHA_F32 ? 4 : 2);
      CHECK(std::memcmp(one.y.data(), two.y.data(), bytes) == 0);
    }
  }
}

TEST_CASE("linear: bad arguments are errors that name the value", "[linear]") {
  ScopedContext ctx("highway");
  REQUIRE(ctx.status() == MHA_OK);
  std::vector<float> w(6 * 4, 0.5f);
  mha_linear* linear = nullptr;
  const auto last_error = [] { return std::string(mha_last_error()); };

  CHECK(mha_linear_create(ctx.get(), 6, 4, MHA_F32, nullptr, nullptr, &linear) ==
        MHA_ERR_INVALID_ARGUMENT);
  CHECK_THAT(last_error(), Catch::Contains("weight"));
  CHECK(mha_linear_create(ctx.get(), 0, 4, MHA_F32, w.data(), nullptr, &linear) ==
        MHA_ERR_INVALID_ARGUMENT);
  CHECK_THAT(last_error(), Catch::Contains("out_features=0"));
  CHECK(mha_linear_create(ctx.get(), 6, 0, MHA_F32, w.data(), nullptr, &linear) ==
        MHA_ERR_INVALID_ARGUMENT);
  CHECK_THAT(last_error(), Catch::Contains("in_features=0"));
  CHECK(linear == nullptr);

  REQUIRE(mha_linear_create(ctx.get(), 6, 4, MHA_F32, w.data(), nullptr, &linear) == MHA_OK);
  CHECK(std::string(mha_linear_backend(linear)) == "highway");
  Dense x(1, 3, 1, 5), y(1, 3, 2, 3), y_bad(1, 3, 2, 4), y_rows(1, 2, 2, 3);
  CHECK(mha_linear_forward(linear, x.get(), y.get()) == MHA_ERR_INVALID_ARGUMENT);
  CHECK_THAT(last_error(), Catch::Contains("in_features=4"));
  Dense x_ok(1, 3, 1, 4, 1.0f);
  CHECK(mha_linear_forward(linear, x_ok.get(), y_bad.get()) == MHA_ERR_INVALID_ARGUMENT);
  CHECK_THAT(last_error(), Catch::Contains("out_features=6"));
  CHECK(mha_linear_forward(linear, x_ok.get(), y_rows.get()) == MHA_ERR_INVALID_ARGUMENT);
  CHECK_THAT(last_error(), Catch::Contains("L=3"));
  CHECK(mha_linear_forward(linear, x_ok.get(), y.get()) == MHA_OK);
  CHECK(y.at(0, 2, 1, 2) == 2.0f);  // 4 x 0.5 x 1
  mha_linear_destroy(linear);
}

}  // namespace
}  // namespace mha_test
