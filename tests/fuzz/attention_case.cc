#include "attention_case.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "findings.h"
#include "fuzz_contexts.h"
#include "mha/kit/dtype.h"
#include "strided_buffer.h"
#include "value_fill.h"

namespace mha_fuzz {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();
// The reference's multiply-adds per input, so that one run stays fast.
constexpr int64_t kMaxWork = 1 << 17;

struct Call {
  int64_t batch = 0, num_heads = 0, num_kv_heads = 0, q_len = 0, kv_len = 0;
  int64_t head_dim = 0, v_head_dim = 0;
  StridedBuffer q, k, v, out, bias, probs;
  bool has_bias = false, has_probs = false, has_lse = false;
  std::vector<float> alibi;
  std::vector<int32_t> kv_lens, q_lens;
  mha_attention_desc desc;
  double q_magnitude = 1, k_magnitude = 1, v_magnitude = 1;
};

// What one context produced.
struct Result {
  Outcome outcome;
  StridedBuffer out, probs;
  std::vector<float> lse;
};

// The logical batch and head counts of the [B, Hq, Lq, Lk] scores with a bias dim of 1
// here and there, or a wrong one.
void BiasDims(FuzzInput& in, const int64_t full[4], int64_t dims[4]) {
  const uint8_t broadcast = in.Byte();
  for (int a = 0; a < 4; ++a) dims[a] = broadcast >> a & 1 ? 1 : full[a];
  if (in.Chance(3)) dims[in.Int(0, 3)] += in.Chance(50) ? 1 : -1;
}

std::vector<int32_t> Lengths(FuzzInput& in, int64_t batch, int64_t max) {
  static const int32_t kBad[4] = {-1, std::numeric_limits<int32_t>::min(),
                                  std::numeric_limits<int32_t>::max(), 0};
  std::vector<int32_t> lens(static_cast<size_t>(batch));
  for (int32_t& n : lens) n = static_cast<int32_t>(in.Int(0, max));
  if (batch > 0 && in.Chance(4)) {
    int32_t bad = in.Pick(kBad);
    if (bad == 0) bad = static_cast<int32_t>(max + 1);
    lens[in.Int(0, batch - 1)] = bad;
  }
  return lens;
}

// A dtype, now and then a value that is none.
int Dtype(FuzzInput& in) {
  if (in.Chance(2)) return in.Chance(50) ? 3 : -1;
  static const int kDtypes[3] = {MHA_F32, MHA_BF16, MHA_F16};
  return in.Pick(kDtypes);
}

// Decodes a call; false when it is too large to run quickly.
bool Decode(FuzzInput& in, Call* c) {
  static const int64_t kBatch[7] = {1, 1, 1, 2, 2, 3, 0};
  static const int64_t kKvHeads[5] = {1, 1, 2, 3, 0};
  static const int64_t kGroup[4] = {1, 1, 2, 4};
  static const int64_t kQLen[9] = {1, 1, 2, 3, 5, 8, 13, 17, 0};
  static const int64_t kKvLen[10] = {1, 2, 3, 5, 8, 16, 33, 64, 130, 0};
  static const int64_t kHeadDim[11] = {8, 16, 1, 2, 3, 4, 7, 32, 64, 65, 128};
  c->batch = in.Pick(kBatch);
  c->num_kv_heads = in.Pick(kKvHeads);
  c->num_heads = c->num_kv_heads * in.Pick(kGroup) + (in.Chance(3) ? 1 : 0);
  c->q_len = in.Pick(kQLen);
  c->kv_len = in.Chance(30) ? c->q_len : in.Pick(kKvLen);
  c->head_dim = in.Pick(kHeadDim);
  c->v_head_dim = in.Chance(70) ? c->head_dim : in.Pick(kHeadDim);
  const int q_dtype = Dtype(in), kv_dtype = Dtype(in), out_dtype = Dtype(in);
  const int v_dtype = in.Chance(3) ? Dtype(in) : kv_dtype;
  const int64_t k_head_dim = c->head_dim + (in.Chance(3) ? 1 : 0);
  const int64_t work =
      c->batch * c->num_heads * c->q_len * c->kv_len * (c->head_dim + c->v_head_dim);
  if (work > kMaxWork) return false;

  const int64_t qd[4] = {c->batch, c->q_len, c->num_heads, c->head_dim};
  const int64_t kd[4] = {c->batch, c->kv_len, c->num_kv_heads, k_head_dim};
  const int64_t vd[4] = {c->batch, c->kv_len, c->num_kv_heads, c->v_head_dim};
  const int64_t od[4] = {c->batch, c->q_len, c->num_heads, c->v_head_dim};
  if (!MakeBuffer(in, qd, q_dtype, true, &c->q) || !MakeBuffer(in, kd, kv_dtype, true, &c->k) ||
      !MakeBuffer(in, vd, v_dtype, true, &c->v) || !MakeBuffer(in, od, out_dtype, true, &c->out)) {
    return false;
  }

  mha_attention_desc_init(&c->desc);
  mha_attention_desc& d = c->desc;
  static const float kScale[10] = {0, 0, 0, 0.3f, 1, 1e-30f, 1e30f, -1, kNaN, kInf};
  static const float kSoftcap[9] = {0, 0, 0, 0, 2, 30, 1e30f, -1, kNaN};
  static const int kCausal[5] = {0, 0, 1, 1, 2};
  d.scale = in.Pick(kScale);
  d.softcap = in.Pick(kSoftcap);
  d.causal = in.Pick(kCausal);
  if (in.Chance(30)) {
    const int64_t windows[8] = {-1, 0, 1, 2, 5, c->kv_len, kMaxInt64, -2};
    d.window_left = in.Pick(windows);
    d.window_right = in.Pick(windows);
  }
  if (in.Chance(20) && c->num_heads > 0) {
    static const float kSlopes[7] = {0.5f, 0.125f, 0.00390625f, 0, -0.25f, 1e30f, kNaN};
    for (int64_t h = 0; h < c->num_heads; ++h) c->alibi.push_back(in.Pick(kSlopes));
    d.alibi_slopes = c->alibi.data();
  }
  const int64_t full[4] = {c->batch, c->num_heads, c->q_len, c->kv_len};
  if (in.Chance(30)) {
    int64_t bd[4];
    BiasDims(in, full, bd);
    const int bias_dtype = in.Chance(4) ? MHA_BF16 : MHA_F32;
    if (!MakeBuffer(in, bd, bias_dtype, false, &c->bias)) return false;
    c->has_bias = true;
    d.bias = &c->bias.view;
  }
  if (in.Chance(20) && c->batch > 0) {
    c->kv_lens = Lengths(in, c->batch, c->kv_len);
    d.kv_lens = c->kv_lens.data();
  }
  if (in.Chance(15) && c->batch > 0) {
    c->q_lens = Lengths(in, c->batch, c->q_len);
    d.q_lens = c->q_lens.data();
  }
  if (in.Chance(25)) {
    int64_t pd[4] = {full[0], full[1], full[2], full[3]};
    if (in.Chance(3)) pd[in.Int(0, 3)] += 1;
    const int probs_dtype = in.Chance(3) ? MHA_BF16 : MHA_F32;
    if (!MakeBuffer(in, pd, probs_dtype, false, &c->probs)) return false;
    c->has_probs = true;
  }
  c->has_lse = in.Chance(40) && c->batch * c->num_heads * c->q_len > 0;

  static const double kQMagnitude[6] = {1, 1, 4, 30, 300, 1e-39};
  static const double kKvMagnitude[3] = {1, 1, 4};
  c->q_magnitude = in.Pick(kQMagnitude);
  c->k_magnitude = in.Pick(kKvMagnitude);
  c->v_magnitude = in.Pick(kKvMagnitude);
  std::mt19937 rng(in.Word());
  FillTame(c->q, c->q_magnitude, rng);
  FillTame(c->k, c->k_magnitude, rng);
  FillTame(c->v, c->v_magnitude, rng);
  if (c->has_bias) {
    FillTame(c->bias, 2.0, rng);
    if (in.Chance(30)) {  // hide some keys
      for (int64_t e = 0; e < c->bias.elements; e += 1 + in.Int(0, 7)) Store(c->bias, e, -kInf);
    }
  }
  StridedBuffer* targets[4] = {&c->q, &c->k, &c->v, &c->bias};
  const int specials = in.Byte() % 4;
  for (int n = 0; n < specials; ++n) AddSpecials(in, *targets[in.Byte() % 4], 1);
  c->q_magnitude = TameMagnitude(c->q, c->q_magnitude);
  c->k_magnitude = TameMagnitude(c->k, c->k_magnitude);
  c->v_magnitude = TameMagnitude(c->v, c->v_magnitude);
  return true;
}

Result Run(mha_context* ctx, Call& c) {
  Result r;
  r.out = c.out;
  mha_attention_desc desc = c.desc;
  if (c.has_probs) {
    r.probs = c.probs;
    desc.probs = &r.probs.view;
  }
  if (c.has_lse) {
    r.lse.assign(static_cast<size_t>(c.batch * c.num_heads * c.q_len), kNaN);
    desc.lse = r.lse.data();
  }
  // Copies keep their own bytes: point the views at them.
  r.out.view.data = c.out.view.data ? r.out.bytes.data() : nullptr;
  r.probs.view.data = c.probs.view.data ? r.probs.bytes.data() : nullptr;
  r.outcome = Observe(mha_attention(ctx, &c.q.view, &c.k.view, &c.v.view, &r.out.view, &desc),
                      "mha_attention");
  return r;
}

// [begin, end) of the keys query i of row b sees (docs/semantics.md), in 128 bits so
// that huge windows cannot overflow.
void VisibleKeys(const Call& c, int64_t b, int64_t i, int64_t* begin, int64_t* end) {
  const __int128 m = c.q_lens.empty() ? c.q_len : c.q_lens[b];
  const __int128 n = c.kv_lens.empty() ? c.kv_len : c.kv_lens[b];
  *begin = *end = 0;
  if (i >= m) return;
  const __int128 p = i + n - m;
  __int128 lo = 0, hi = n;
  if (c.desc.window_left >= 0) lo = std::max<__int128>(lo, p - c.desc.window_left);
  if (c.desc.causal) hi = std::min<__int128>(hi, p + 1);
  if (c.desc.window_right >= 0) hi = std::min<__int128>(hi, p + c.desc.window_right + 1);
  *begin = static_cast<int64_t>(lo);
  *end = static_cast<int64_t>(std::max(lo, hi));
}

double ElementAt(const StridedBuffer& t, int64_t a0, int64_t a1, int64_t a2, int64_t a3) {
  return Load(t, a0 * t.view.strides[0] + a1 * t.view.strides[1] + a2 * t.view.strides[2] +
                     a3 * t.view.strides[3]);
}

// Whether query row (b, i, h) reads a special value: then the reference's result
// (NaN, or an f64 value f32 cannot reach) is not one a backend must reproduce.
bool ReadsSpecial(const Call& c, int64_t b, int64_t i, int64_t h) {
  const int64_t g = h / (c.num_heads / c.num_kv_heads);
  int64_t begin, end;
  VisibleKeys(c, b, i, &begin, &end);
  if (begin >= end) return false;  // a row that sees no key gives zeros, whatever it holds
  for (int64_t e = 0; e < c.head_dim; ++e) {
    if (IsSpecial(ElementAt(c.q, b, i, h, e))) return true;
  }
  for (int64_t j = begin; j < end; ++j) {
    for (int64_t e = 0; e < c.head_dim; ++e) {
      if (IsSpecial(ElementAt(c.k, b, j, g, e))) return true;
    }
    for (int64_t e = 0; e < c.v_head_dim; ++e) {
      if (IsSpecial(ElementAt(c.v, b, j, g, e))) return true;
    }
    if (c.has_bias) {
      const auto at = [&](int a, int64_t index) { return c.bias.view.dims[a] == 1 ? 0 : index; };
      const double x = ElementAt(c.bias, at(0, b), at(1, h), at(2, i), at(3, j));
      if (x != -kInf && IsSpecial(x)) return true;
    }
  }
  return false;
}

// Bound on the error of one f32 logit: the f64 reference sums the same products
// exactly; f32 loses about 1e-6 of the largest |logit| (docs/semantics.md).
double LogitError(const Call& c) {
  const double scale = c.desc.scale > 0 ? c.desc.scale : 1.0 / std::sqrt(double(c.head_dim));
  double largest = scale * double(c.head_dim) * c.q_magnitude * c.k_magnitude;
  if (c.desc.softcap > 0) largest = std::min(largest, double(c.desc.softcap));
  double slope = 0;
  for (float s : c.alibi) slope = std::max(slope, std::fabs(double(s)));
  largest += 2.0 + slope * double(c.q_len + c.kv_len);
  return 1e-6 * std::max(1.0, largest);
}

// Whether the call's options let tame inputs produce logits beyond f32's reach. A
// huge softcap is an identity that f32 evaluates inexactly (c * tanh(S / c): onednn's
// logits were seen 1e-3 off with c = 1e30).
bool TameOptions(const Call& c) {
  for (float s : c.alibi) {
    if (std::fabs(s) > 1e3f) return false;
  }
  return c.desc.scale <= 1e3f && c.desc.softcap <= 1e4f;
}

void Compare(const Call& c, const Result& want, const Result& got, const std::string& name) {
  if (!PaddingUntouched(got.out)) Finding(name + ": wrote outside out's view");
  if (c.has_probs && !PaddingUntouched(got.probs)) Finding(name + ": wrote outside probs' view");
  if (!TameOptions(c)) return;
  const double logit = LogitError(c);
  const mha_dtype kv = c.k.view.dtype, out = c.out.view.dtype;
  const Tolerance out_tol = {c.v_magnitude * (2e-5 + 4 * logit + (kv != MHA_F32 ? 4e-3 : 0.0)),
                             out == MHA_BF16  ? 0x1p-7
                             : out == MHA_F16 ? 0x1p-10
                                              : 1e-5};
  const Tolerance probs_tol = {2e-6, 1e-5 + 4 * logit};
  const Tolerance lse_tol = {1e-5 + 4 * logit, 2e-6};
  const auto mismatch = [&](const char* what, int64_t b, int64_t i, int64_t h, int64_t e, double g,
                            double w) {
    char text[256];
    std::snprintf(text, sizeof text,
                  "%s: %s[b=%" PRId64 ", i=%" PRId64 ", h=%" PRId64 ", %" PRId64
                  "] = %.9g but the reference gives %.9g",
                  name.c_str(), what, b, i, h, e, g, w);
    Finding(text);
  };
  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t i = 0; i < c.q_len; ++i) {
      for (int64_t h = 0; h < c.num_heads; ++h) {
        if (ReadsSpecial(c, b, i, h)) continue;
        if (!c.out.overlapping) {
          for (int64_t e = 0; e < c.v_head_dim; ++e) {
            const double g = ElementAt(got.out, b, i, h, e), w = ElementAt(want.out, b, i, h, e);
            if (!Close(g, w, out_tol)) mismatch("out", b, i, h, e, g, w);
          }
        }
        if (c.has_probs && !c.probs.overlapping) {
          for (int64_t j = 0; j < c.kv_len; ++j) {
            const double g = ElementAt(got.probs, b, h, i, j),
                         w = ElementAt(want.probs, b, h, i, j);
            if (!Close(g, w, probs_tol)) mismatch("probs", b, i, h, j, g, w);
          }
        }
        if (c.has_lse) {
          const size_t at = static_cast<size_t>((b * c.num_heads + h) * c.q_len + i);
          if (!Close(got.lse[at], want.lse[at], lse_tol)) {
            mismatch("lse", b, i, h, 0, got.lse[at], want.lse[at]);
          }
        }
      }
    }
  }
}

}  // namespace

void FuzzAttention(FuzzInput& in) {
  const std::vector<NamedContext> backends = PickBackends(in);
  Call call;
  if (!Decode(in, &call)) return;
  std::string text = DescribeView("q", call.q.view) + DescribeView("k", call.k.view) +
                     DescribeView("v", call.v.view) + DescribeView("out", call.out.view);
  if (call.has_bias) text += DescribeView("bias", call.bias.view);
  if (call.has_probs) text += DescribeView("probs", call.probs.view);
  SetCallDescription(text);
  const Result want = Run(ReferenceContext(), call);
  for (const NamedContext& backend : backends) {
    const Result got = Run(backend.ctx, call);
    if (BothRan(want.outcome, got.outcome, backend.name.c_str(), "mha_attention")) {
      Compare(call, want, got, backend.name);
    }
  }
}

}  // namespace mha_fuzz
