#include "self_check.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "mha/mha.h"

namespace mha_tools {
namespace {

struct CheckCase {
  const char* name;
  int64_t batch, heads_q, heads_kv, len_q, len_k, head_dim;
  bool causal;
  mha_dtype kv_dtype;
  float q_scale;  // Q's values are multiplied by this: larger logits, a sharper softmax
};

// Both cases cross vector widths and tiles; the second is a decode step over a bf16
// cache long enough for the key split. Its Q is scaled by 4 so that the softmax is
// sharp enough for O to be of order 0.1: with flat weights O averages 1500 values to
// about 0.05, and a backend that drops a single key would stay within the bf16
// tolerance below; scaled, dropping one key moves O by 1e-2, swapping kv heads by 0.2.
constexpr CheckCase kCases[] = {
    {"prefill-causal-gqa/f32", 2, 8, 2, 67, 67, 64, true, MHA_F32, 1.0f},
    {"decode/f32q-bf16kv", 2, 8, 2, 1, 1500, 128, false, MHA_BF16, 4.0f},
};

// What O may differ from the f64 reference by: |got - want| <= atol + rtol * |want|.
// The rule of the conformance tests (tests/conformance.cc, OutTolerance; stated in
// docs/benchmarks.md), for an f32 out: f32 logits, whose error grows with their size;
// and with bf16 K/V, up to 3e-3 more, because a backend may round P to bf16 for the
// P V product (oneDNN's bf16 matmul, vdpbf16ps), up to 2^-9 relative per weight on
// |V| <= 1. Q itself is never rounded: Q K^T runs in f32 on K widened (exactly).
struct Tolerance {
  double atol, rtol;
};

Tolerance OutTolerance(const CheckCase& c) {
  const double logit_error = 1e-6 * std::max(1.0f, c.q_scale);
  return {2e-5 + 4 * logit_error + (c.kv_dtype != MHA_F32 ? 3e-3 : 0.0), 1e-5};
}

// Values k/64 with |k| < 128 are exact in bf16, so the f32 and bf16 copies of K/V hold
// the same numbers and the reference runs on the f32 copy.
std::vector<float> ExactInBf16(size_t n, uint32_t seed) {
  std::vector<float> x(n);
  for (float& v : x) {
    seed = seed * 1664525u + 1013904223u;
    v = static_cast<float>(static_cast<int>(seed >> 25) - 64) / 64.0f;
  }
  return x;
}

std::vector<uint16_t> ToBf16(const std::vector<float>& x) {
  std::vector<uint16_t> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &x[i], sizeof bits);
    out[i] = static_cast<uint16_t>(bits >> 16);  // exact: the low half is zero
  }
  return out;
}

mha_tensor Bshd(void* data, mha_dtype dtype, int64_t b, int64_t s, int64_t h, int64_t d) {
  return {data, dtype, {b, s, h, d}, {s * h * d, h * d, d, 1}};
}

struct CaseData {
  std::vector<float> q, k, v;
  std::vector<uint16_t> k16, v16;
};

mha_status Run(mha_context* ctx, const CheckCase& c, CaseData& data, bool kv_in_f32,
               std::vector<float>& out) {
  const mha_dtype kv = kv_in_f32 ? MHA_F32 : c.kv_dtype;
  void* k = kv == MHA_F32 ? static_cast<void*>(data.k.data()) : data.k16.data();
  void* v = kv == MHA_F32 ? static_cast<void*>(data.v.data()) : data.v16.data();
  mha_tensor tq = Bshd(data.q.data(), MHA_F32, c.batch, c.len_q, c.heads_q, c.head_dim);
  mha_tensor tk = Bshd(k, kv, c.batch, c.len_k, c.heads_kv, c.head_dim);
  mha_tensor tv = Bshd(v, kv, c.batch, c.len_k, c.heads_kv, c.head_dim);
  mha_tensor to = Bshd(out.data(), MHA_F32, c.batch, c.len_q, c.heads_q, c.head_dim);
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  desc.causal = c.causal;
  return mha_attention(ctx, &tq, &tk, &tv, &to, &desc);
}

JsonValue Error(const char* what) {
  JsonValue e = JsonValue::Object();
  e.Set("ok", false);
  e.Set("error", std::string(what) + ": " + mha_last_error());
  return e;
}

JsonValue CheckOne(mha_context* ctx, mha_context* reference, const CheckCase& c) {
  const size_t q_size = c.batch * c.len_q * c.heads_q * c.head_dim;
  const size_t kv_size = c.batch * c.len_k * c.heads_kv * c.head_dim;
  CaseData data{ExactInBf16(q_size, 1), ExactInBf16(kv_size, 2), ExactInBf16(kv_size, 3),
                {}, {}};
  for (float& x : data.q) x *= c.q_scale;  // exact: a power of two
  data.k16 = ToBf16(data.k);
  data.v16 = ToBf16(data.v);
  std::vector<float> out(q_size), expected(q_size);
  if (Run(reference, c, data, true, expected) != MHA_OK) return Error("reference");

  std::vector<double> micros;
  for (int rep = 0; rep < 8; ++rep) {  // the first call warms up and is not timed
    const auto start = std::chrono::steady_clock::now();
    if (Run(ctx, c, data, false, out) != MHA_OK) return Error("attention");
    const std::chrono::duration<double, std::micro> took =
        std::chrono::steady_clock::now() - start;
    if (rep > 0) micros.push_back(took.count());
  }
  std::nth_element(micros.begin(), micros.begin() + micros.size() / 2, micros.end());

  const Tolerance tol = OutTolerance(c);
  double max_err = 0;
  bool ok = true;
  for (size_t i = 0; i < q_size; ++i) {
    const double want = expected[i];
    const double err = std::fabs(static_cast<double>(out[i]) - want);
    max_err = std::isnan(err) ? INFINITY : std::max(max_err, err);
    if (!(err <= tol.atol + tol.rtol * std::fabs(want))) ok = false;  // NaN fails
  }
  JsonValue entry = JsonValue::Object();
  entry.Set("ok", ok);
  entry.Set("max_abs_err", max_err);
  entry.Set("tolerance", tol.atol);
  entry.Set("rtol", tol.rtol);
  entry.Set("median_us_1_thread", micros[micros.size() / 2]);
  return entry;
}

}  // namespace

JsonValue SelfCheck(const std::string& backend) {
  JsonValue checks = JsonValue::Object();
  mha_context* ctx = nullptr;
  mha_context* reference = nullptr;
  if (mha_context_create(backend.c_str(), &ctx) != MHA_OK) {
    checks.Set("all", Error("context"));
    return checks;
  }
  mha_context_set_num_threads(ctx, 1);  // the time of a call, not of a busy machine's barrier
  if (mha_context_create("reference", &reference) != MHA_OK) {
    checks.Set("all", Error("reference context"));
  } else {
    for (const CheckCase& c : kCases) checks.Set(c.name, CheckOne(ctx, reference, c));
    mha_context_destroy(reference);
  }
  mha_context_destroy(ctx);
  return checks;
}

}  // namespace mha_tools
