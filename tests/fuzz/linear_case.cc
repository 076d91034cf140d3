#include "linear_case.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "c_calls.h"
#include "dtype_choice.h"
#include "findings.h"
#include "fuzz_contexts.h"
#include "mha/kit/dtype.h"
#include "strided_buffer.h"
#include "value_fill.h"

namespace mha_fuzz {
namespace {

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxWork = 1 << 18;  // multiply-adds of one forward

struct Weights {
  int64_t out_features = 0, in_features = 0;  // N = heads * head_dim, K
  int64_t heads = 0, head_dim = 0;            // y's default split of N
  mha_dtype dtype = MHA_F32;                  // any int (set with SetRaw)
  std::vector<uint8_t> weight;                // [N, K] in dtype (f32 when it is no dtype)
  std::vector<float> bias;                    // [N] or empty
};

// The arguments of create: mostly the weights' own, now and then sizes it must refuse
// before reading any weight (non-positive, or a product that overflows int64).
struct CreateArgs {
  int64_t out_features, in_features;
  bool pass_weight;
};

bool DecodeWeights(FuzzInput& in, std::mt19937& rng, Weights* w) {
  static const int64_t kIn[10] = {1, 2, 3, 5, 8, 16, 17, 31, 64, 100};
  static const int64_t kHeads[5] = {1, 1, 2, 3, 4};
  static const int64_t kHeadDim[10] = {1, 2, 3, 4, 7, 8, 16, 17, 32, 65};
  w->in_features = in.Pick(kIn);
  w->heads = in.Pick(kHeads);
  w->head_dim = in.Pick(kHeadDim);
  w->out_features = w->heads * w->head_dim;
  SetRaw(&w->dtype, DecodeDtype(in));
  const int64_t elements = w->out_features * w->in_features;
  if (elements > kMaxSpan) return false;
  w->weight =
      Typed(TameValues(static_cast<size_t>(elements), 1.0 / std::sqrt(double(w->in_features)), rng),
            w->dtype);
  if (in.Chance(50)) {
    w->bias = TameValues(static_cast<size_t>(w->out_features), 0.5, rng);
    if (in.Chance(5)) {
      static const float kSpecials[3] = {std::numeric_limits<float>::quiet_NaN(),
                                         std::numeric_limits<float>::infinity(), 1e30f};
      w->bias[in.Int(0, w->out_features - 1)] = in.Pick(kSpecials);
    }
  }
  return true;
}

CreateArgs DecodeCreateArgs(FuzzInput& in, const Weights& w) {
  CreateArgs a = {w.out_features, w.in_features, !in.Chance(2)};
  if (in.Chance(4)) {
    const int64_t n = w.out_features, k = w.in_features;
    const int64_t bad[6][2] = {{0, k},
                               {n, 0},
                               {-1, k},
                               {n, std::numeric_limits<int64_t>::min()},
                               {kMaxInt64 / 2 + 1, 2},
                               {3, kMaxInt64 / 2}};
    const int64_t(&pair)[2] = bad[in.Byte() % 6];
    a.out_features = pair[0];
    a.in_features = pair[1];
  }
  return a;
}

struct Forward {
  StridedBuffer x, y;
  bool pass_linear = true, pass_x = true, pass_y = true;  // false: a NULL pointer
  bool must_reject = false;                               // an argument every backend must refuse
  // Per [b, s, n] of the weights' shape: the f64 answer and its bound, NaN where the
  // row of x or the bias reads a special value.
  std::vector<double> want, bound;
};

// False when the call is too large to run quickly.
bool DecodeForward(FuzzInput& in, std::mt19937& rng, const Weights& w, Forward* f) {
  static const int64_t kBatch[5] = {1, 1, 2, 3, 0};
  static const int64_t kLen[8] = {1, 1, 2, 3, 5, 8, 13, 0};
  const int64_t batch = in.Pick(kBatch), len = in.Pick(kLen);
  const int64_t n = w.out_features, k = w.in_features;
  int64_t xd[4] = {batch, len, 1, k};
  if (in.Chance(4)) xd[in.Chance(50) ? 2 : 3] += 1;
  int64_t yd[4] = {batch, len, w.heads, w.head_dim};
  switch (in.Byte() % 8) {
    case 1:  // the plain matrix
      yd[2] = 1;
      yd[3] = n;
      break;
    case 2:  // one feature per head
      yd[2] = n;
      yd[3] = 1;
      break;
    default:
      break;
  }
  if (in.Chance(4)) yd[in.Int(0, 3)] += 1;
  if (batch * len * n * k > kMaxWork) return false;
  if (!MakeBuffer(in, xd, DecodeDtype(in), true, &f->x) ||
      !MakeBuffer(in, yd, DecodeDtype(in), true, &f->y)) {
    return false;
  }
  FillTame(f->x, in.Chance(70) ? 1.0 : 4.0, rng);
  if (in.Chance(10)) AddSpecials(in, f->x, 1 + in.Byte() % 2);
  f->pass_linear = !in.Chance(2);
  f->pass_x = !in.Chance(2);
  f->pass_y = !in.Chance(2);
  return true;
}

// The answer of every accepted call: y[b, s, n] = bias[n] + sum_k x[b, s, k] W[n, k] in
// f64 over the stored values, within |err| <= tol sum_k |x W| (+ |bias|) + r |y| + 1e-7:
// tol 2^-8 for bf16 weights with x of another dtype (a backend may round x to bf16),
// else 1e-5 (f32 sums of exact or nearly exact products); r, y's rounding: 2^-8 bf16,
// 2^-11 f16, 0 f32.
void Answer(const Weights& w, Forward* f) {
  const mha_tensor &x = f->x.view, &y = f->y.view;
  f->must_reject = !f->pass_linear || !f->pass_x || !f->pass_y || !f->x.addressable ||
                   !f->y.addressable || !mha::IsDtype(x.dtype) || !mha::IsDtype(y.dtype) ||
                   (x.dims[3] > 1 && x.strides[3] != 1) || (y.dims[3] > 1 && y.strides[3] != 1) ||
                   x.dims[2] != 1 || x.dims[3] != w.in_features || y.dims[0] != x.dims[0] ||
                   y.dims[1] != x.dims[1] || y.dims[2] * y.dims[3] != w.out_features;
  if (f->must_reject) return;
  const double tol = w.dtype == MHA_BF16 && x.dtype != MHA_BF16 ? 0x1p-8 : 1e-5;
  const double rounding = y.dtype == MHA_BF16 ? 0x1p-8 : y.dtype == MHA_F16 ? 0x1p-11 : 0;
  const int64_t rows = x.dims[0] * x.dims[1], n_out = w.out_features, k_in = w.in_features;
  f->want.assign(static_cast<size_t>(rows * n_out), std::numeric_limits<double>::quiet_NaN());
  f->bound = f->want;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t row = (r / x.dims[1]) * x.strides[0] + (r % x.dims[1]) * x.strides[1];
    bool special = false;
    for (int64_t k = 0; k < k_in; ++k) special = special || IsSpecial(Load(f->x, row + k));
    if (special) continue;
    for (int64_t n = 0; n < n_out; ++n) {
      const double b = w.bias.empty() ? 0.0 : w.bias[n];
      if (IsSpecial(b)) continue;
      double sum = b, sum_abs = std::fabs(b);
      for (int64_t k = 0; k < k_in; ++k) {
        const double p =
            double{Load(f->x, row + k)} * mha::LoadAsF32(w.weight.data(), w.dtype, n * k_in + k);
        sum += p;
        sum_abs += std::fabs(p);
      }
      f->want[r * n_out + n] = sum;
      f->bound[r * n_out + n] = tol * sum_abs + rounding * std::fabs(sum) + 1e-7;
    }
  }
}

void Check(const Weights& w, const Forward& f, const StridedBuffer& y, const std::string& name) {
  if (!PaddingUntouched(y)) Finding(name + ": wrote outside y's view");
  if (y.overlapping) return;
  const mha_tensor& v = y.view;
  const int64_t len = v.dims[1], head_dim = v.dims[3];
  for (size_t i = 0; i < f.want.size(); ++i) {
    if (std::isnan(f.want[i])) continue;
    const int64_t r = static_cast<int64_t>(i) / w.out_features;
    const int64_t n = static_cast<int64_t>(i) % w.out_features;
    const int64_t b = r / len, s = r % len;
    const double got =
        Load(y, b * v.strides[0] + s * v.strides[1] + (n / head_dim) * v.strides[2] + n % head_dim);
    if (!(std::fabs(got - f.want[i]) <= f.bound[i])) {
      char text[256];
      std::snprintf(text, sizeof text,
                    "%s: y[b=%" PRId64 ", s=%" PRId64 ", n=%" PRId64
                    "] = %.9g but the f64 product gives %.9g (bound %.3g)",
                    name.c_str(), b, s, n, got, f.want[i], f.bound[i]);
      Finding(text);
    }
  }
}

struct LinearDeleter {
  void operator()(mha_linear* l) const { mha_linear_destroy(l); }
};
using LinearPtr = std::unique_ptr<mha_linear, LinearDeleter>;

// The backend a context's name starts with ("highway" of "highway:AVX2").
std::string BackendOf(const std::string& context_name) {
  return context_name.substr(0, context_name.find(':'));
}

std::string Describe(const Weights& w, const CreateArgs& a, const Forward* f) {
  char text[256];
  std::snprintf(text, sizeof text,
                "linear out_features=%" PRId64 " in_features=%" PRId64 " (weights %" PRId64
                "x%" PRId64 ", heads %" PRId64 "x%" PRId64 ") weight_dtype %d%s%s\n",
                a.out_features, a.in_features, w.out_features, w.in_features, w.heads, w.head_dim,
                mha::DtypeValue(w.dtype), a.pass_weight ? "" : " NULL weight",
                w.bias.empty() ? "" : " bias");
  std::string s = text;
  if (f) s += DescribeView("x", f->x.view) + DescribeView("y", f->y.view);
  return s;
}

}  // namespace

void FuzzLinear(FuzzInput& in) {
  std::vector<NamedContext> contexts = {{"reference", ReferenceContext()}};
  for (const NamedContext& b : PickBackends(in)) contexts.push_back(b);
  std::mt19937 rng(in.Word());
  Weights w;
  if (!DecodeWeights(in, rng, &w)) return;
  const CreateArgs args = DecodeCreateArgs(in, w);
  SetCallDescription(Describe(w, args, nullptr));

  std::vector<LinearPtr> linears;
  std::vector<Outcome> created;
  for (const NamedContext& c : contexts) {
    mha_linear* l = nullptr;
    created.push_back(Observe(
        FuzzLinearCreate(c.ctx, args.out_features, args.in_features, mha::DtypeValue(w.dtype),
                         args.pass_weight ? w.weight.data() : nullptr,
                         w.bias.empty() ? nullptr : w.bias.data(), &l),
        "mha_linear_create"));
    if ((created.back().status == MHA_OK) != (l != nullptr)) {
      Finding(c.name + ": mha_linear_create's status and *out disagree");
    }
    if (l && mha_linear_backend(l) != BackendOf(c.name)) {
      Finding(c.name + ": mha_linear_backend gives " + mha_linear_backend(l));
    }
    linears.emplace_back(l);
  }
  for (size_t i = 1; i < contexts.size(); ++i) {
    BothRan(created[0], created[i], contexts[i].name.c_str(), "mha_linear_create");
  }
  if (created[0].status != MHA_OK) return;

  const int steps = 1 + in.Byte() % 3;
  for (int step = 0; step < steps; ++step) {
    Forward f;
    if (!DecodeForward(in, rng, w, &f)) return;
    SetCallDescription(Describe(w, args, &f));
    Answer(w, &f);
    Outcome want;
    for (size_t i = 0; i < contexts.size(); ++i) {
      if (!linears[i]) continue;  // the backend declined the weights
      StridedBuffer y = f.y;
      y.view.data = f.y.view.data ? y.bytes.data() : nullptr;
      const Outcome got =
          Observe(mha_linear_forward(f.pass_linear ? linears[i].get() : nullptr,
                                     f.pass_x ? &f.x.view : nullptr, f.pass_y ? &y.view : nullptr),
                  "mha_linear_forward");
      if (i == 0) {
        want = got;
        if (got.status == MHA_OK && f.must_reject) Finding("reference: accepted an invalid call");
      } else if (!BothRan(want, got, contexts[i].name.c_str(), "mha_linear_forward")) {
        continue;
      }
      if (got.status == MHA_OK) Check(w, f, y, contexts[i].name);
    }
  }
}

}  // namespace mha_fuzz
