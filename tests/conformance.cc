#include "conformance.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <sstream>

#include <catch2/catch.hpp>

#include "mha/kit/dtype.h"

namespace mha_test {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr uint8_t kPoison = 0xff;  // all-ones bytes are NaN in f32, bf16 and f16

const char* LayoutName(Layout l) {
  switch (l) {
    case Layout::kBshd: return "bshd";
    case Layout::kBhsd: return "bhsd";
    case Layout::kPadded: return "padded";
    case Layout::kPackedQkv: return "packed_qkv";
  }
  return "?";
}

const char* BiasName(BiasKind b) {
  switch (b) {
    case BiasKind::kNone: return "none";
    case BiasKind::kFull: return "[B,H,Lq,Lk]";
    case BiasKind::kPerHead: return "[1,H,Lq,Lk]";
    case BiasKind::kKeyPadding: return "[B,1,1,Lk]";
    case BiasKind::kShared: return "[1,1,Lq,Lk]";
    case BiasKind::kStridedKeys: return "[1,H,Lq,Lk] key stride 2";
    case BiasKind::kPerQuery: return "[B,1,Lq,1]";
  }
  return "?";
}

// Bytes that hold one or more strided tensors. Everything not written as a logical
// element stays poisoned (NaN), so a backend that reads padding produces NaN and one
// that writes outside its view is caught.
struct Storage {
  std::vector<uint8_t> bytes;
  mha_dtype dtype = MHA_F32;

  void Allocate(int64_t elements, mha_dtype type) {
    dtype = type;
    bytes.assign(static_cast<size_t>(elements * mha::DtypeSize(type)), kPoison);
  }
  void* data() { return bytes.data(); }
};

// A logical [B, S, H, D] view into storage at element `offset`.
mha_tensor View(Storage& s, int64_t offset, const int64_t dims[4], const int64_t strides[4]) {
  mha_tensor t;
  t.data = s.bytes.data() + offset * mha::DtypeSize(s.dtype);
  t.dtype = s.dtype;
  for (int a = 0; a < 4; ++a) {
    t.dims[a] = dims[a];
    t.strides[a] = strides[a];
  }
  return t;
}

// Strides for `layout` and the element count they span (pads drawn from rng).
int64_t LayoutStrides(Layout layout, const int64_t dims[4], std::mt19937_64& rng,
                      int64_t strides[4]) {
  const int64_t b = dims[0], s = dims[1], h = dims[2], d = dims[3];
  if (layout == Layout::kBhsd) {
    strides[0] = h * s * d;
    strides[1] = d;
    strides[2] = s * d;
    strides[3] = 1;
    return b * h * s * d;
  }
  int64_t pad_head = 0, pad_row = 0, pad_batch = 0;
  if (layout == Layout::kPadded) {
    std::uniform_int_distribution<int64_t> pad(1, 5);
    pad_head = pad(rng);
    pad_row = pad(rng);
    pad_batch = pad(rng);
  }
  strides[3] = 1;
  strides[2] = d + pad_head;
  strides[1] = h * strides[2] + pad_row;
  strides[0] = s * strides[1] + pad_batch;
  return b * strides[0];
}

void ForEachElement(const mha_tensor& t, const std::function<void(int64_t, int64_t)>& f) {
  int64_t logical = 0;
  for (int64_t a0 = 0; a0 < t.dims[0]; ++a0)
    for (int64_t a1 = 0; a1 < t.dims[1]; ++a1)
      for (int64_t a2 = 0; a2 < t.dims[2]; ++a2)
        for (int64_t a3 = 0; a3 < t.dims[3]; ++a3) {
          f(logical++, a0 * t.strides[0] + a1 * t.strides[1] + a2 * t.strides[2] +
                           a3 * t.strides[3]);
        }
}

void FillUniform(const mha_tensor& t, float lo, float hi, float factor, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> dist(lo, hi);
  ForEachElement(t, [&](int64_t, int64_t offset) {
    mha::StoreFromF32(t.data, t.dtype, offset, factor * dist(rng));
  });
}

std::vector<float> Gather(const mha_tensor& t) {
  std::vector<float> values;
  ForEachElement(t, [&](int64_t, int64_t offset) {
    values.push_back(mha::LoadAsF32(t.data, t.dtype, offset));
  });
  return values;
}

bool Close(double got, double want, Tolerance tol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= tol.atol + tol.rtol * std::fabs(want);
}

// Checks every element; on failure reports the first mismatch and the count.
bool CheckClose(const char* what, const std::vector<float>& got,
                const std::vector<float>& want, Tolerance tol, const Case& c) {
  size_t bad = 0, first = 0;
  double worst = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!Close(got[i], want[i], tol)) {
      if (bad++ == 0) first = i;
    }
    if (std::isfinite(want[i]) && std::isfinite(got[i])) {
      worst = std::max(worst, std::fabs(double(got[i]) - double(want[i])));
    }
  }
  if (bad == 0) return true;
  FAIL_CHECK(what << ": " << bad << " of " << want.size() << " elements differ (atol "
                  << tol.atol << ", rtol " << tol.rtol << ", worst finite |diff| " << worst
                  << "); first at logical index " << first << ": got " << got[first]
                  << ", want " << want[first] << "\n  case: " << c.Describe());
  return false;
}

// The inputs and both outputs of one case, laid out as the case asks.
struct Problem {
  Storage qkv_storage[3], out_storage[2], bias_storage, probs_storage[2];
  mha_tensor q{}, k{}, v{}, out[2]{}, bias{}, probs[2]{};
  std::vector<float> alibi;
  std::vector<int32_t> kv_lens;
  std::vector<int32_t> q_lens;
  std::vector<float> lse[2];
  mha_attention_desc desc[2];

  explicit Problem(const Case& c);
};

Problem::Problem(const Case& c) {
  INFO("case: " << c.Describe());
  // A packed buffer is sized by Q's rows: any other case would write past it.
  REQUIRE((c.layout != Layout::kPackedQkv || PackedQkvFits(c)));
  std::mt19937_64 rng(c.seed);
  const int64_t qd[4] = {c.batch, c.q_len, c.num_heads, c.head_dim};
  const int64_t kd[4] = {c.batch, c.kv_len, c.num_kv_heads, c.head_dim};
  const int64_t vd[4] = {c.batch, c.kv_len, c.num_kv_heads, c.v_head_dim};
  const int64_t od[4] = {c.batch, c.q_len, c.num_heads, c.v_head_dim};
  int64_t strides[4];
  if (c.layout == Layout::kPackedQkv) {
    const int64_t width = c.num_heads + 2 * c.num_kv_heads;
    const int64_t pd[4] = {c.batch, c.q_len, width, c.head_dim};
    const int64_t count = LayoutStrides(Layout::kBshd, pd, rng, strides);
    qkv_storage[0].Allocate(count, c.q_dtype);
    q = View(qkv_storage[0], 0, qd, strides);
    k = View(qkv_storage[0], c.num_heads * c.head_dim, kd, strides);
    v = View(qkv_storage[0], (c.num_heads + c.num_kv_heads) * c.head_dim, vd, strides);
  } else {
    const int64_t* dims[3] = {qd, kd, vd};
    const mha_dtype dtypes[3] = {c.q_dtype, c.kv_dtype, c.kv_dtype};
    mha_tensor* views[3] = {&q, &k, &v};
    for (int t = 0; t < 3; ++t) {
      qkv_storage[t].Allocate(LayoutStrides(c.layout, dims[t], rng, strides), dtypes[t]);
      *views[t] = View(qkv_storage[t], 0, dims[t], strides);
    }
  }
  FillUniform(q, -1.0f, 1.0f, c.logit_scale, rng);
  FillUniform(k, -1.0f, 1.0f, 1.0f, rng);
  FillUniform(v, -1.0f, 1.0f, 1.0f, rng);

  const Layout out_layout = c.layout == Layout::kPackedQkv ? Layout::kBshd : c.layout;
  const int64_t out_count = LayoutStrides(out_layout, od, rng, strides);
  for (int r = 0; r < 2; ++r) {
    out_storage[r].Allocate(out_count, c.out_dtype);
    out[r] = View(out_storage[r], 0, od, strides);
    mha_attention_desc_init(&desc[r]);
    desc[r].scale = c.scale;
    desc[r].causal = c.causal ? 1 : 0;
    desc[r].window_left = c.window_left;
    desc[r].window_right = c.window_right;
    desc[r].softcap = c.softcap;
  }

  if (c.alibi) {
    for (int64_t h = 0; h < c.num_heads; ++h) {
      alibi.push_back(std::exp2(-8.0f * float(h + 1) / float(c.num_heads)));
    }
  }
  if (c.kv_lens) {
    std::uniform_int_distribution<int32_t> len(0, static_cast<int32_t>(c.kv_len));
    for (int64_t b = 0; b < c.batch; ++b) kv_lens.push_back(b == 0 ? int32_t(c.kv_len) : len(rng));
  }
  if (c.q_lens) {
    std::uniform_int_distribution<int32_t> len(0, static_cast<int32_t>(c.q_len));
    for (int64_t b = 0; b < c.batch; ++b) q_lens.push_back(len(rng));
  }
  if (c.bias != BiasKind::kNone) {
    const BiasKind k = c.bias;
    const bool all_b =
        k == BiasKind::kFull || k == BiasKind::kKeyPadding || k == BiasKind::kPerQuery;
    const bool all_h =
        k == BiasKind::kFull || k == BiasKind::kPerHead || k == BiasKind::kStridedKeys;
    const bool all_q = k != BiasKind::kKeyPadding;
    const int64_t bd[4] = {all_b ? c.batch : 1, all_h ? c.num_heads : 1, all_q ? c.q_len : 1,
                           k == BiasKind::kPerQuery ? 1 : c.kv_len};
    const int64_t key_stride = k == BiasKind::kStridedKeys ? 2 : 1;
    bias_storage.Allocate(bd[0] * bd[1] * bd[2] * bd[3] * key_stride, MHA_F32);
    const int64_t bs[4] = {bd[1] * bd[2] * bd[3] * key_stride, bd[2] * bd[3] * key_stride,
                           bd[3] * key_stride, key_stride};
    bias = View(bias_storage, 0, bd, bs);
    FillUniform(bias, -2.0f, 2.0f, 1.0f, rng);
    if (c.bias == BiasKind::kKeyPadding) {  // hide about a fifth of the keys
      std::bernoulli_distribution hide(0.2);
      ForEachElement(bias, [&](int64_t, int64_t offset) {
        if (hide(rng)) static_cast<float*>(bias.data)[offset] = -kInf;
      });
    }
  }
  const int64_t pdims[4] = {c.batch, c.num_heads, c.q_len, c.kv_len};
  const int64_t pstrides[4] = {c.num_heads * c.q_len * c.kv_len, c.q_len * c.kv_len, c.kv_len, 1};
  for (int r = 0; r < 2; ++r) {
    desc[r].alibi_slopes = c.alibi ? alibi.data() : nullptr;
    desc[r].kv_lens = c.kv_lens ? kv_lens.data() : nullptr;
    desc[r].q_lens = c.q_lens ? q_lens.data() : nullptr;
    desc[r].bias = c.bias != BiasKind::kNone ? &bias : nullptr;
    if (c.probs) {
      probs_storage[r].Allocate(pdims[0] * pstrides[0], MHA_F32);
      probs[r] = View(probs_storage[r], 0, pdims, pstrides);
      desc[r].probs = &probs[r];
    }
    if (c.lse) {
      lse[r].assign(static_cast<size_t>(c.batch * c.num_heads * c.q_len),
                    std::numeric_limits<float>::quiet_NaN());
      desc[r].lse = lse[r].data();
    }
  }
}

// True when every byte of `s` outside the view `t` is still poison.
bool PaddingUntouched(const Storage& s, const mha_tensor& t) {
  std::vector<bool> logical(s.bytes.size() / mha::DtypeSize(s.dtype), false);
  ForEachElement(t, [&](int64_t, int64_t offset) { logical[offset] = true; });
  const int64_t size = mha::DtypeSize(s.dtype);
  for (size_t e = 0; e < logical.size(); ++e) {
    if (logical[e]) continue;
    for (int64_t byte = 0; byte < size; ++byte) {
      if (s.bytes[e * size + byte] != kPoison) return false;
    }
  }
  return true;
}

mha_context* ReferenceContext() {
  static mha_context* ctx = [] {
    mha_context* c = nullptr;
    if (mha_context_create("reference", &c) != MHA_OK) c = nullptr;
    return c;
  }();
  return ctx;
}

// Error bound of one logit computed in f32: grows with the logits' magnitude.
double LogitError(const Case& c) { return 1e-6 * std::max(1.0f, c.logit_scale); }

bool IsHalf(mha_dtype d) { return d != MHA_F32; }

}  // namespace

std::string Case::Describe() const {
  std::ostringstream s;
  s << "B=" << batch << " Hq=" << num_heads << " Hkv=" << num_kv_heads << " Lq=" << q_len
    << " Lk=" << kv_len << " D=" << head_dim << " Dv=" << v_head_dim
    << " q=" << mha_dtype_name(q_dtype) << " kv=" << mha_dtype_name(kv_dtype)
    << " out=" << mha_dtype_name(out_dtype) << " layout=" << LayoutName(layout)
    << " scale=" << scale << " causal=" << causal << " window=(" << window_left << ","
    << window_right << ") softcap=" << softcap << " alibi=" << alibi
    << " bias=" << BiasName(bias) << " kv_lens=" << kv_lens << " q_lens=" << q_lens
    << " probs=" << probs
    << " lse=" << lse << " logit_scale=" << logit_scale << " seed=" << seed;
  return s.str();
}

// Why these tolerances. The reference accumulates in f64 from the same inputs, so
// a backend's error comes from (1) f32 logits, whose error grows with their size;
// (2) 16-bit K/V: a backend may round P to bf16 for the P.V product (vdpbf16ps,
// oneDNN's bf16 matmul), which costs up to 2^-8 relative per weight (half an
// ulp of bf16's 8-bit significand), so up to 3.9e-3 absolute on |O| <= max|V| =
// 1, all of it when the weights round the same way; (3) a 16-bit output: the f32 result may sit
// on the other side of a rounding boundary, one ulp (2^-7 relative for bf16,
// 2^-10 for f16).
Tolerance OutTolerance(const Case& c) {
  double atol = 2e-5 + 4 * LogitError(c) + (IsHalf(c.kv_dtype) ? 4e-3 : 0.0);
  double rtol = c.out_dtype == MHA_BF16 ? 0x1p-7 : c.out_dtype == MHA_F16 ? 0x1p-10 : 1e-5;
  return {atol, rtol};
}

// P = exp(S - lse): its relative error is the logit's error.
Tolerance ProbsTolerance(const Case& c) { return {2e-6, 1e-5 + 4 * LogitError(c)}; }

Tolerance LseTolerance(const Case& c) { return {1e-5 + 4 * LogitError(c), 2e-6}; }

bool PackedQkvFits(const Case& c) {
  return c.q_len == c.kv_len && c.head_dim == c.v_head_dim && c.q_dtype == c.kv_dtype;
}

std::vector<Case> RandomCases(uint64_t seed, int count, int64_t max_len,
                              const std::vector<int64_t>& head_dims) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };
  // Lengths are log-uniform so that 1, tile edges and max_len all appear.
  auto length = [&] {
    const double x = std::uniform_real_distribution<double>(0.0, std::log(double(max_len)))(rng);
    return std::max<int64_t>(1, std::llround(std::exp(x)));
  };
  const mha_dtype dtypes[3] = {MHA_F32, MHA_BF16, MHA_F16};
  std::vector<Case> cases;
  while (static_cast<int>(cases.size()) < count) {
    Case c;
    c.seed = rng();
    c.batch = uniform(1, 3);
    c.num_kv_heads = uniform(1, 3);
    c.num_heads = c.num_kv_heads * uniform(1, 4);
    c.q_len = chance(0.15) ? 1 : length();
    c.kv_len = chance(0.3) ? c.q_len : length();
    c.head_dim = head_dims[uniform(0, int64_t(head_dims.size()) - 1)];
    c.v_head_dim = chance(0.8) ? c.head_dim : head_dims[uniform(0, int64_t(head_dims.size()) - 1)];
    c.q_dtype = dtypes[uniform(0, 2)];
    c.kv_dtype = chance(0.5) ? c.q_dtype : dtypes[uniform(0, 2)];
    c.out_dtype = chance(0.6) ? MHA_F32 : dtypes[uniform(0, 2)];
    c.layout = static_cast<Layout>(uniform(0, 2));
    if (PackedQkvFits(c) && chance(0.3)) {
      c.layout = Layout::kPackedQkv;
    }
    if (chance(0.1)) c.scale = 0.3f;
    c.causal = chance(0.35);
    if (chance(0.2)) {
      c.window_left = chance(0.7) ? uniform(0, c.kv_len) : -1;
      c.window_right = chance(0.5) ? uniform(0, 4) : -1;
    }
    if (chance(0.15)) c.softcap = 2.0f;
    c.alibi = chance(0.15);
    c.bias = chance(0.3) ? static_cast<BiasKind>(uniform(1, 6)) : BiasKind::kNone;
    c.kv_lens = chance(0.2);
    c.q_lens = chance(0.15);
    c.probs = chance(0.25);
    c.lse = chance(0.4);
    // Keep the f64 reference cheap: at most ~2e7 multiply-adds a case.
    const int64_t work = c.batch * c.num_heads * c.q_len * c.kv_len * (c.head_dim + c.v_head_dim);
    if (work > 20'000'000) continue;
    cases.push_back(c);
  }
  return cases;
}

bool CheckAgainstReference(mha_context* backend_ctx, const Case& c) {
  mha_context* reference = ReferenceContext();
  REQUIRE(reference != nullptr);
  Problem p(c);
  const mha_status want = mha_attention(reference, &p.q, &p.k, &p.v, &p.out[0], &p.desc[0]);
  INFO("reference: " << mha_last_error() << "\n  case: " << c.Describe());
  REQUIRE(want == MHA_OK);
  const mha_status got = mha_attention(backend_ctx, &p.q, &p.k, &p.v, &p.out[1], &p.desc[1]);
  INFO("backend " << mha_context_backend(backend_ctx) << ": " << mha_last_error());
  CHECK(got == MHA_OK);
  if (got != MHA_OK) return false;

  bool ok = CheckClose("out", Gather(p.out[1]), Gather(p.out[0]), OutTolerance(c), c);
  if (!PaddingUntouched(p.out_storage[1], p.out[1])) {
    FAIL_CHECK("out: the backend wrote outside its view\n  case: " << c.Describe());
    ok = false;
  }
  if (c.probs) {
    ok &= CheckClose("probs", Gather(p.probs[1]), Gather(p.probs[0]), ProbsTolerance(c), c);
  }
  if (c.lse) ok &= CheckClose("lse", p.lse[1], p.lse[0], LseTolerance(c), c);
  return ok;
}

}  // namespace mha_test
