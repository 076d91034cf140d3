// An outside C++ program built against the installed mha through find_package(mha):
// a causal GQA attention on the context that MHA_BACKEND names, checked against the
// reference backend. Exits non-zero on any difference.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <mha/mha.hpp>

int main() {
  const int64_t batch = 2, len = 7, heads = 4, kv_heads = 2, dim = 16;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  auto random = [&](size_t n) {
    std::vector<float> x(n);
    for (float& v : x) v = dist(rng);
    return x;
  };
  std::vector<float> q = random(batch * len * heads * dim);
  std::vector<float> k = random(batch * len * kv_heads * dim);
  std::vector<float> v = random(batch * len * kv_heads * dim);
  try {
    mha::Context ctx;  // MHA_BACKEND, else auto
    mha::Context reference(mha::ContextOptions().Backend("reference"));
    std::vector<float> got(q.size()), want(q.size());
    auto tq = mha::Tensor::Bshd(q.data(), MHA_F32, batch, len, heads, dim);
    auto tk = mha::Tensor::Bshd(k.data(), MHA_F32, batch, len, kv_heads, dim);
    auto tv = mha::Tensor::Bshd(v.data(), MHA_F32, batch, len, kv_heads, dim);
    auto tgot = mha::Tensor::Bshd(got.data(), MHA_F32, batch, len, heads, dim);
    auto twant = mha::Tensor::Bshd(want.data(), MHA_F32, batch, len, heads, dim);
    const mha::AttentionOptions causal = mha::AttentionOptions().Causal();
    ctx.Attention(tq, tk, tv, tgot, causal);
    reference.Attention(tq, tk, tv, twant, causal);
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::fabs(got[i] - want[i]) > 1e-5f) {
        std::fprintf(stderr, "consumer++: %s gives %g at %zu, the reference %g\n",
                     ctx.backend().c_str(), got[i], i, want[i]);
        return 1;
      }
    }
    std::printf("consumer++: %s (%s) matches the reference\n", ctx.backend().c_str(),
                ctx.isa().c_str());
  } catch (const mha::Error& e) {
    std::fprintf(stderr, "consumer++: %s\n", e.what());
    return 1;
  }
  return 0;
}
