// The reference backend against hand-computed values, mathematical identities and an
// independent naive computation written here, mask by mask.
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "test_util.h"

namespace mha_test {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct NaiveOptions {
  double scale = 0.0;  // 0: 1/sqrt(D)
  bool causal = false;
  int64_t window_left = -1, window_right = -1;
  const int32_t* kv_lens = nullptr;
  const int32_t* q_lens = nullptr;
  double softcap = 0.0;
  const float* alibi = nullptr;
  Dense* bias = nullptr;  // full [B, Hq, Lq, Lk]
};

struct NaiveResult {
  std::vector<double> out;    // [B, Lq, Hq, Dv]
  std::vector<double> lse;    // [B, Hq, Lq]
  std::vector<double> probs;  // [B, Hq, Lq, Lk]
};

// Attention straight from the definition, one (query, key) pair at a time, with
// each mask rule written as its own condition.
NaiveResult Naive(Dense& q, Dense& k, Dense& v, const NaiveOptions& o) {
  const int64_t B = q.view.dims[0], Lq = q.view.dims[1], Hq = q.view.dims[2],
                D = q.view.dims[3], Lk = k.view.dims[1], Hkv = k.view.dims[2],
                Dv = v.view.dims[3];
  const double scale = o.scale > 0 ? o.scale : 1.0 / std::sqrt(double(D));
  NaiveResult r;
  r.out.assign(B * Lq * Hq * Dv, 0.0);
  r.lse.assign(B * Hq * Lq, -kInf);
  r.probs.assign(B * Hq * Lq * Lk, 0.0);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = o.kv_lens ? o.kv_lens[b] : Lk;
    const int64_t m = o.q_lens ? o.q_lens[b] : Lq;
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t g = h / (Hq / Hkv);
      for (int64_t i = 0; i < m; ++i) {  // queries i >= m are padding: zeros
        const int64_t pos = i + n - m;
        std::vector<double> s(Lk, -kInf);
        for (int64_t j = 0; j < Lk; ++j) {
          if (j >= n) continue;
          if (o.causal && j > pos) continue;
          if (o.window_left >= 0 && j < pos - o.window_left) continue;
          if (o.window_right >= 0 && j > pos + o.window_right) continue;
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += double(q.at(b, i, h, d)) * k.at(b, j, g, d);
          double x = scale * dot;
          if (o.softcap > 0) x = o.softcap * std::tanh(x / o.softcap);
          if (o.bias) x += o.bias->at(b, h, i, j);
          if (o.alibi) x += double(o.alibi[h]) * double(j - pos);
          s[j] = x;
        }
        double m = -kInf;
        for (double x : s) m = std::max(m, x);
        if (m == -kInf) continue;  // every key forbidden: zeros
        double sum = 0;
        for (double x : s) sum += std::exp(x - m);
        r.lse[(b * Hq + h) * Lq + i] = m + std::log(sum);
        for (int64_t j = 0; j < Lk; ++j) {
          const double p = std::exp(s[j] - m) / sum;
          r.probs[((b * Hq + h) * Lq + i) * Lk + j] = p;
          for (int64_t e = 0; e < Dv; ++e) {
            r.out[((b * Lq + i) * Hq + h) * Dv + e] += p * v.at(b, j, g, e);
          }
        }
      }
    }
  }
  return r;
}

void ExpectNear(const std::vector<float>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    if (std::isinf(want[i])) {
      CHECK(double(got[i]) == want[i]);
    } else {
      CHECK(std::fabs(got[i] - want[i]) <= tol);
    }
  }
}

// Runs the reference with `desc` and checks out, lse and probs against Naive.
void CheckAgainstNaive(Dense& q, Dense& k, Dense& v, mha_attention_desc desc,
                       const NaiveOptions& o) {
  const int64_t B = q.view.dims[0], Lq = q.view.dims[1], Hq = q.view.dims[2],
                Lk = k.view.dims[1], Dv = v.view.dims[3];
  Dense out(B, Lq, Hq, Dv, -7.0f);
  Dense probs(B, Hq, Lq, Lk, -7.0f);
  std::vector<float> lse(B * Hq * Lq, -7.0f);
  desc.probs = probs.get();
  desc.lse = lse.data();
  ScopedContext ctx("reference");
  REQUIRE(mha_attention(ctx.get(), q.get(), k.get(), v.get(), out.get(), &desc) == MHA_OK);
  const NaiveResult want = Naive(q, k, v, o);
  ExpectNear(out.values, want.out, 1e-6);
  ExpectNear(lse, want.lse, 1e-5);
  ExpectNear(probs.values, want.probs, 1e-7);
}

std::vector<float> Run(const char* backend, Dense& q, Dense& k, Dense& v, Dense& out,
                       const mha_attention_desc* desc = nullptr) {
  ScopedContext ctx(backend);
  REQUIRE(mha_attention(ctx.get(), q.get(), k.get(), v.get(), out.get(), desc) == MHA_OK);
  return out.values;
}

TEST_CASE("two tokens: the softmax by hand", "[reference]") {
  Dense q(1, 1, 1, 2), k(1, 2, 1, 2), v(1, 2, 1, 2), out(1, 1, 1, 2);
  q.values = {1, 0};
  k.values = {1, 0, 0, 1};
  v.values = {1, 2, 3, 4};
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  desc.scale = 1.0f;
  float lse = 0;
  desc.lse = &lse;
  Run("reference", q, k, v, out, &desc);
  const double p0 = std::exp(1.0) / (std::exp(1.0) + 1.0), p1 = 1.0 - p0;
  CHECK(out.values[0] == Approx(p0 * 1 + p1 * 3).epsilon(1e-6));
  CHECK(out.values[1] == Approx(p0 * 2 + p1 * 4).epsilon(1e-6));
  CHECK(lse == Approx(std::log(std::exp(1.0) + 1.0)).epsilon(1e-6));
}

TEST_CASE("identical keys give the mean of V and one key gives that V", "[reference]") {
  std::mt19937_64 rng(1);
  Dense q(1, 3, 2, 8), k(1, 5, 2, 8), v(1, 5, 2, 4), out(1, 3, 2, 4);
  q.Randomize(rng);
  v.Randomize(rng);
  std::vector<float> key(8);
  for (float& x : key) x = std::uniform_real_distribution<float>(-1, 1)(rng);
  for (int64_t j = 0; j < 5; ++j)
    for (int64_t g = 0; g < 2; ++g)
      for (int64_t d = 0; d < 8; ++d) k.at(0, j, g, d) = key[d];
  Run("reference", q, k, v, out);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t e = 0; e < 4; ++e) {
        double mean = 0;
        for (int64_t j = 0; j < 5; ++j) mean += v.at(0, j, h, e) / 5.0;
        CHECK(out.at(0, i, h, e) == Approx(mean).margin(1e-6));
      }

  Dense k1(1, 1, 2, 8), v1(1, 1, 2, 4);
  k1.Randomize(rng);
  v1.Randomize(rng);
  Run("reference", q, k1, v1, out);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t e = 0; e < 4; ++e) CHECK(out.at(0, i, h, e) == v1.at(0, 0, h, e));
}

TEST_CASE("scale multiplies the logits and a huge softcap changes nothing", "[reference]") {
  std::mt19937_64 rng(2);
  Dense q(2, 4, 2, 16), q2(2, 4, 2, 16), k(2, 6, 2, 16), v(2, 6, 2, 16);
  Dense a(2, 4, 2, 16), b(2, 4, 2, 16), c(2, 4, 2, 16);
  q.Randomize(rng);
  k.Randomize(rng);
  v.Randomize(rng);
  for (size_t i = 0; i < q.values.size(); ++i) q2.values[i] = 2.0f * q.values[i];
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  desc.scale = 0.5f;
  Run("reference", q2, k, v, a, &desc);
  desc.scale = 1.0f;
  Run("reference", q, k, v, b, &desc);
  desc.softcap = 1e6f;
  Run("reference", q, k, v, c, &desc);
  for (size_t i = 0; i < a.values.size(); ++i) {
    CHECK(a.values[i] == Approx(b.values[i]).margin(1e-6));
    CHECK(c.values[i] == Approx(b.values[i]).margin(1e-6));
  }
}

TEST_CASE("every mask matches the naive definition", "[reference][mask]") {
  std::mt19937_64 rng(3);
  const int64_t B = 2, Hq = 4, Hkv = 2, D = 8, Dv = 6;
  const int32_t kv_lens[B] = {9, 4};
  const float alibi[Hq] = {0.5f, 0.25f, 0.125f, 0.0625f};
  struct Shape { int64_t q_len, kv_len; };
  for (Shape shape : {Shape{5, 9}, Shape{9, 9}, Shape{12, 9}, Shape{1, 9}}) {
    Dense q(B, shape.q_len, Hq, D), k(B, shape.kv_len, Hkv, D), v(B, shape.kv_len, Hkv, Dv);
    Dense bias(B, Hq, shape.q_len, shape.kv_len);
    q.Randomize(rng, -2, 2);
    k.Randomize(rng, -2, 2);
    v.Randomize(rng);
    bias.Randomize(rng, -1, 1);
    struct Variant {
      const char* name;
      bool causal;
      int64_t left, right;
      bool lens, softcap, use_alibi, use_bias;
      bool query_lens = false;
    };
    const Variant variants[] = {
        {"none", false, -1, -1, false, false, false, false},
        {"causal", true, -1, -1, false, false, false, false},
        {"window left 2", false, 2, -1, false, false, false, false},
        {"window right 1", false, -1, 1, false, false, false, false},
        {"window 0,0 (diagonal only)", false, 0, 0, false, false, false, false},
        {"causal + window left 3", true, 3, -1, false, false, false, false},
        {"kv_lens", false, -1, -1, true, false, false, false},
        {"causal + kv_lens", true, -1, -1, true, false, false, false},
        {"softcap", false, -1, -1, false, true, false, false},
        {"alibi + causal", true, -1, -1, false, false, true, false},
        {"bias", false, -1, -1, false, false, false, true},
        {"everything", true, 4, 2, true, true, true, true},
        {"q_lens", false, -1, -1, false, false, false, false, true},
        {"causal + q_lens + kv_lens (padded prompt)", true, -1, -1, true, false, false, false,
         true},
        {"window + alibi + q_lens", false, 2, 1, true, false, true, false, true},
    };
    for (const Variant& w : variants) {
      INFO("Lq=" << shape.q_len << " Lk=" << shape.kv_len << " mask: " << w.name);
      mha_attention_desc desc;
      mha_attention_desc_init(&desc);
      NaiveOptions o;
      desc.causal = o.causal = w.causal;
      desc.window_left = o.window_left = w.left;
      desc.window_right = o.window_right = w.right;
      if (w.lens) desc.kv_lens = o.kv_lens = kv_lens;
      // Each row's own query count, clamped to Lq: {all, 1 fewer than Lq, or 0}.
      const int32_t q_lens[B] = {static_cast<int32_t>(std::min<int64_t>(shape.q_len, 4)),
                                 static_cast<int32_t>(shape.q_len - 1)};
      if (w.query_lens) desc.q_lens = o.q_lens = q_lens;
      if (w.softcap) desc.softcap = 1.5f, o.softcap = 1.5;
      if (w.use_alibi) desc.alibi_slopes = o.alibi = alibi;
      if (w.use_bias) desc.bias = bias.get(), o.bias = &bias;
      CheckAgainstNaive(q, k, v, desc, o);
    }
  }
}

TEST_CASE("a broadcast bias equals the bias expanded", "[reference][mask]") {
  std::mt19937_64 rng(4);
  const int64_t B = 2, H = 3, Lq = 4, Lk = 5, D = 8;
  Dense q(B, Lq, H, D), k(B, Lk, H, D), v(B, Lk, H, D);
  q.Randomize(rng);
  k.Randomize(rng);
  v.Randomize(rng);
  Dense padding(B, 1, 1, Lk), full(B, H, Lq, Lk);
  padding.Randomize(rng, -2, 2);
  padding.at(1, 0, 0, 3) = -std::numeric_limits<float>::infinity();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Lq; ++i)
        for (int64_t j = 0; j < Lk; ++j) full.at(b, h, i, j) = padding.at(b, 0, 0, j);
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  desc.bias = padding.get();
  Dense a(B, Lq, H, D), b(B, Lq, H, D);
  Run("reference", q, k, v, a, &desc);
  desc.bias = full.get();
  Run("reference", q, k, v, b, &desc);
  CHECK(a.values == b.values);
}

TEST_CASE("grouped-query attention equals K/V repeated per head", "[reference]") {
  std::mt19937_64 rng(5);
  const int64_t B = 2, Hq = 6, Hkv = 2, Lq = 5, Lk = 7, D = 8;
  Dense q(B, Lq, Hq, D), k(B, Lk, Hkv, D), v(B, Lk, Hkv, D);
  Dense k_rep(B, Lk, Hq, D), v_rep(B, Lk, Hq, D);
  q.Randomize(rng);
  k.Randomize(rng);
  v.Randomize(rng);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < Lk; ++j)
      for (int64_t h = 0; h < Hq; ++h)
        for (int64_t d = 0; d < D; ++d) {
          k_rep.at(b, j, h, d) = k.at(b, j, h / (Hq / Hkv), d);
          v_rep.at(b, j, h, d) = v.at(b, j, h / (Hq / Hkv), d);
        }
  Dense a(B, Lq, Hq, D), b(B, Lq, Hq, D);
  CHECK(Run("reference", q, k, v, a) == Run("reference", q, k_rep, v_rep, b));
}

TEST_CASE("BHSD and packed QKV views equal contiguous BSHD", "[reference][layout]") {
  std::mt19937_64 rng(6);
  const int64_t B = 2, H = 3, L = 6, D = 8;
  Dense q(B, L, H, D), k(B, L, H, D), v(B, L, H, D), want(B, L, H, D);
  q.Randomize(rng);
  k.Randomize(rng);
  v.Randomize(rng);
  Run("reference", q, k, v, want);

  // BHSD: the same logical tensors stored head-major.
  std::vector<float> store[3];
  mha_tensor views[3];
  Dense* src[3] = {&q, &k, &v};
  for (int t = 0; t < 3; ++t) {
    store[t].resize(B * H * L * D);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t s = 0; s < L; ++s)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t d = 0; d < D; ++d)
            store[t][((b * H + h) * L + s) * D + d] = src[t]->at(b, s, h, d);
    views[t] = {store[t].data(), MHA_F32, {B, L, H, D}, {H * L * D, D, L * D, 1}};
  }
  std::vector<float> out_store(B * H * L * D);
  mha_tensor out = {out_store.data(), MHA_F32, {B, L, H, D}, {H * L * D, D, L * D, 1}};
  ScopedContext ctx("reference");
  REQUIRE(mha_attention(ctx.get(), &views[0], &views[1], &views[2], &out, nullptr) == MHA_OK);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < L; ++s)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < D; ++d)
          CHECK(out_store[((b * H + h) * L + s) * D + d] == want.at(b, s, h, d));

  // Packed QKV: one [B, L, 3, H, D] buffer, three views into it.
  std::vector<float> packed(B * L * 3 * H * D);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < L; ++s)
      for (int t = 0; t < 3; ++t)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t d = 0; d < D; ++d)
            packed[(((b * L + s) * 3 + t) * H + h) * D + d] = src[t]->at(b, s, h, d);
  mha_tensor qkv[3];
  for (int t = 0; t < 3; ++t) {
    qkv[t] = {packed.data() + t * H * D, MHA_F32, {B, L, H, D}, {L * 3 * H * D, 3 * H * D, D, 1}};
  }
  Dense got(B, L, H, D);
  REQUIRE(mha_attention(ctx.get(), &qkv[0], &qkv[1], &qkv[2], got.get(), nullptr) == MHA_OK);
  CHECK(got.values == want.values);
}

TEST_CASE("fully forbidden rows give zeros, lse -inf and no NaN", "[reference][mask]") {
  std::mt19937_64 rng(7);
  const int64_t Lq = 6, Lk = 3, D = 4;
  Dense q(1, Lq, 1, D), k(1, Lk, 1, D), v(1, Lk, 1, D), out(1, Lq, 1, D, 9.0f);
  Dense probs(1, 1, Lq, Lk, 9.0f);
  q.Randomize(rng);
  k.Randomize(rng);
  v.Randomize(rng);
  std::vector<float> lse(Lq, 9.0f);
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  desc.causal = 1;  // Lq > Lk: the first Lq - Lk rows sit before every key
  desc.probs = probs.get();
  desc.lse = lse.data();
  Run("reference", q, k, v, out, &desc);
  for (int64_t i = 0; i < Lq; ++i) {
    const bool forbidden = i < Lq - Lk;
    for (int64_t d = 0; d < D; ++d) {
      CHECK_FALSE(std::isnan(out.at(0, i, 0, d)));
      if (forbidden) CHECK(out.at(0, i, 0, d) == 0.0f);
    }
    for (int64_t j = 0; j < Lk; ++j) {
      if (forbidden) CHECK(probs.at(0, 0, i, j) == 0.0f);
    }
    CHECK(std::isinf(lse[i]) == forbidden);
  }
}

TEST_CASE("Lq = 0 writes nothing and Lk = 0 writes zeros", "[reference]") {
  Dense q(1, 0, 2, 4), k(1, 3, 2, 4), v(1, 3, 2, 4), out(1, 0, 2, 4);
  Run("reference", q, k, v, out);
  Dense q2(1, 2, 2, 4), k0(1, 0, 2, 4), v0(1, 0, 2, 4), out2(1, 2, 2, 4, 5.0f);
  std::vector<float> lse(4, 5.0f);
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  desc.lse = lse.data();
  Run("reference", q2, k0, v0, out2, &desc);
  for (float x : out2.values) CHECK(x == 0.0f);
  for (float x : lse) CHECK(x == -std::numeric_limits<float>::infinity());
}

TEST_CASE("large logits stay finite and exact", "[reference]") {
  std::mt19937_64 rng(8);
  Dense q(1, 4, 2, 16), k(1, 33, 2, 16), v(1, 33, 2, 16);
  q.Randomize(rng, -300, 300);  // |S| ~ 1e3
  k.Randomize(rng);
  v.Randomize(rng);
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  CheckAgainstNaive(q, k, v, desc, NaiveOptions{});
}

TEST_CASE("a NaN in one query row stays in that row", "[reference]") {
  std::mt19937_64 rng(9);
  Dense q(1, 3, 1, 4), k(1, 5, 1, 4), v(1, 5, 1, 4), out(1, 3, 1, 4);
  q.Randomize(rng);
  k.Randomize(rng);
  v.Randomize(rng);
  q.at(0, 1, 0, 2) = std::numeric_limits<float>::quiet_NaN();
  Run("reference", q, k, v, out);
  for (int64_t d = 0; d < 4; ++d) {
    CHECK(std::isnan(out.at(0, 1, 0, d)));
    CHECK_FALSE(std::isnan(out.at(0, 0, 0, d)));
    CHECK_FALSE(std::isnan(out.at(0, 2, 0, d)));
  }
}

}  // namespace
}  // namespace mha_test
