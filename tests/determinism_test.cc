// Every backend gives bitwise identical results for any thread count (design.md §3:
// the work split is fixed by the shape, never by the thread count): attention on
// prefill, decode and masked shapes, the layer's prefill and decode steps, and the
// linear layer. The one exception is stated in docs/onednn.md and tested as stated.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "jobs.h"
#include "layer_util.h"
#include "test_util.h"

namespace mha_test {
namespace {

const int kThreadCounts[] = {2, 3, 4, 8};

bool Bitwise(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

bool Close(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(std::fabs(a[i] - b[i]) <= 1e-5f * (1 + std::fabs(b[i])))) return false;
  }
  return true;
}

// Runs job on a context of backend with 1 thread, then with each other count, and
// CHECKs that every result has the same bits; or, where the backend does not promise
// that (`across_counts` false), the same bits for repeats of one count, and results
// within rounding of each other across counts.
template <typename Job>
void CheckThreadCounts(const std::string& backend, const Job& job, bool across_counts = true) {
  ScopedContext ctx(backend.c_str());
  REQUIRE(ctx.status() == MHA_OK);
  REQUIRE(mha_context_set_num_threads(ctx.get(), 1) == MHA_OK);
  std::vector<float> one;
  INFO(mha_last_error());
  REQUIRE(job.Run(ctx.get(), &one) == MHA_OK);
  for (int threads : kThreadCounts) {
    INFO("threads " << threads);
    REQUIRE(mha_context_set_num_threads(ctx.get(), threads) == MHA_OK);
    std::vector<float> got, again;
    REQUIRE(job.Run(ctx.get(), &got) == MHA_OK);
    if (across_counts) {
      CHECK(Bitwise(got, one));
    } else {
      REQUIRE(job.Run(ctx.get(), &again) == MHA_OK);
      CHECK(Bitwise(got, again));
      CHECK(Close(got, one));
    }
  }
}

// docs/onednn.md: on x86 the few-query f32 and f16 calls run oneDNN's gemm:jit, which
// splits its reductions by the thread count; its aarch64 build promises no call.
bool AcrossCounts(const std::string& backend, const AttentionShape& s) {
#if defined(__aarch64__)
  if (backend == "onednn") return false;
#endif
  return backend != "onednn" || s.q_len > 16 || s.dtype == MHA_BF16;
}

TEST_CASE("determinism: attention is bitwise identical for 1 to 8 threads", "[determinism]") {
  AttentionShape prefill;  // GQA, with probs and lse
  prefill.batch = 2;
  prefill.q_len = prefill.kv_len = 150;
  prefill.probs = prefill.lse = true;
  AttentionShape causal_bf16;
  causal_bf16.dtype = MHA_BF16;
  causal_bf16.causal = true;
  causal_bf16.q_len = causal_bf16.kv_len = 200;
  causal_bf16.head_dim = 64;
  AttentionShape decode;  // split over blocks of keys
  decode.batch = 2;
  decode.q_len = 1;
  decode.kv_len = 3000;
  decode.kv_lens = true;
  decode.head_dim = 64;
  decode.lse = true;
  AttentionShape decode_f16 = decode;
  decode_f16.dtype = MHA_F16;
  decode_f16.q_len = 3;
  decode_f16.causal = true;
  const AttentionShape shapes[] = {prefill, causal_bf16, decode, decode_f16};
  for (const std::string& backend : LayerBackends()) {
    for (size_t i = 0; i < std::size(shapes); ++i) {
      INFO("backend " << backend << ", shape " << i);
      CheckThreadCounts(backend, AttentionJob(shapes[i], 10 + i), AcrossCounts(backend, shapes[i]));
    }
  }
}

TEST_CASE("determinism: the layer is bitwise identical for 1 to 8 threads", "[determinism]") {
  LayerShape f32;
  LayerShape bf16;
  bf16.weight_dtype = MHA_BF16;
  bf16.prompt = 40;
  for (const std::string& backend : LayerBackends()) {
    INFO("backend " << backend);
    // The decode steps' attention is a one-query f32 call.
    const bool across_counts = backend != "onednn";
    CheckThreadCounts(backend, LayerJob(f32, 20), across_counts);
    CheckThreadCounts(backend, LayerJob(bf16, 21), across_counts);
  }
}

TEST_CASE("determinism: the linear layer is bitwise identical for 1 to 8 threads",
          "[determinism]") {
  LinearShape small;
  LinearShape large;  // enough rows and columns to split over threads
  large.batch = 3;
  large.len = 200;
  large.in_features = 256;
  large.out_features = 384;
  LinearShape bf16 = large;
  bf16.weight_dtype = MHA_BF16;
  for (const std::string& backend : LayerBackends()) {
    INFO("backend " << backend);
    CheckThreadCounts(backend, LinearJob(small, 30));
    CheckThreadCounts(backend, LinearJob(large, 31));
    CheckThreadCounts(backend, LinearJob(bf16, 32));
  }
}

}  // namespace
}  // namespace mha_test
