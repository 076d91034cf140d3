// Several threads at once, on every backend: on one context, on a context each, on
// one layer and one linear layer, and while the backend module loads. Every result
// must equal the same call run alone; under tools/test.sh tsan, ThreadSanitizer also
// reports any race.
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "jobs.h"
#include "layer_util.h"
#include "test_util.h"

namespace mha_test {
namespace {

constexpr int kThreads = 4;

// The attention calls every thread runs: a GQA prefill with probs and lse, a causal
// bf16 prefill and a split-key decode over per-row lengths.
std::vector<AttentionJob> Jobs() {
  AttentionShape prefill;
  prefill.probs = prefill.lse = true;
  AttentionShape bf16;
  bf16.dtype = MHA_BF16;
  bf16.causal = true;
  bf16.q_len = bf16.kv_len = 70;
  AttentionShape decode;
  decode.batch = 2;
  decode.q_len = 1;
  decode.kv_len = 1500;
  decode.kv_lens = true;
  std::vector<AttentionJob> jobs;
  jobs.emplace_back(prefill, 1);
  jobs.emplace_back(bf16, 2);
  jobs.emplace_back(decode, 3);
  return jobs;
}

// Each job's result on ctx when nothing else runs.
std::vector<std::vector<float>> RunAlone(mha_context* ctx, const std::vector<AttentionJob>& jobs) {
  std::vector<std::vector<float>> want(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) {
    INFO(mha_last_error());
    REQUIRE(jobs[j].Run(ctx, &want[j]) == MHA_OK);
  }
  return want;
}

// Runs body(t) on kThreads threads that start together.
template <typename Body>
void OnThreads(Body body) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      body(t);
    });
  }
  for (std::thread& t : threads) t.join();
}

TEST_CASE("threads: one context of each backend serves several threads at once", "[threads]") {
  const std::vector<AttentionJob> jobs = Jobs();
  for (const std::string& backend : LayerBackends()) {
    INFO("backend " << backend);
    ScopedContext ctx(backend.c_str());
    REQUIRE(ctx.status() == MHA_OK);
    REQUIRE(mha_context_set_num_threads(ctx.get(), 2) == MHA_OK);
    const std::vector<std::vector<float>> want = RunAlone(ctx.get(), jobs);
    std::vector<int> matches(kThreads, 0);
    OnThreads([&](int t) {
      for (int rep = 0; rep < 2; ++rep) {
        for (size_t n = 0; n < jobs.size(); ++n) {
          const size_t j = (n + t) % jobs.size();  // threads start on different jobs
          std::vector<float> got;
          if (jobs[j].Run(ctx.get(), &got) == MHA_OK && got == want[j]) ++matches[t];
        }
      }
    });
    for (int t = 0; t < kThreads; ++t) CHECK(matches[t] == int(2 * jobs.size()));
  }
}

TEST_CASE("threads: a context per thread, created and destroyed while others run", "[threads]") {
  const std::vector<AttentionJob> jobs = Jobs();
  for (const std::string& backend : LayerBackends()) {
    INFO("backend " << backend);
    ScopedContext alone(backend.c_str());
    REQUIRE(alone.status() == MHA_OK);
    REQUIRE(mha_context_set_num_threads(alone.get(), 2) == MHA_OK);
    const std::vector<std::vector<float>> want = RunAlone(alone.get(), jobs);
    std::vector<int> matches(kThreads, 0);
    OnThreads([&](int t) {
      for (int rep = 0; rep < 2; ++rep) {
        ScopedContext ctx(backend.c_str());
        if (ctx.status() != MHA_OK || mha_context_set_num_threads(ctx.get(), 2) != MHA_OK) return;
        for (size_t j = 0; j < jobs.size(); ++j) {
          std::vector<float> got;
          if (jobs[j].Run(ctx.get(), &got) == MHA_OK && got == want[j]) ++matches[t];
        }
      }
    });
    for (int t = 0; t < kThreads; ++t) CHECK(matches[t] == int(2 * jobs.size()));
  }
}

TEST_CASE("threads: forwards on one layer, each with its own cache, and one linear layer",
          "[threads]") {
  const LayerJob layer_job(LayerShape{}, 4);
  const LinearJob linear_job(LinearShape{}, 5);
  for (const std::string& backend : LayerBackends()) {
    INFO("backend " << backend);
    ScopedContext ctx(backend.c_str());
    REQUIRE(ctx.status() == MHA_OK);
    REQUIRE(mha_context_set_num_threads(ctx.get(), 2) == MHA_OK);
    mha_layer* layer = nullptr;
    mha_linear* linear = nullptr;
    REQUIRE(layer_job.Create(ctx.get(), &layer) == MHA_OK);
    REQUIRE(linear_job.Create(ctx.get(), &linear) == MHA_OK);
    std::vector<float> want_layer, want_linear;
    REQUIRE(layer_job.Forward(ctx.get(), layer, &want_layer) == MHA_OK);
    REQUIRE(linear_job.Forward(linear, &want_linear) == MHA_OK);
    std::vector<int> matches(kThreads, 0);
    OnThreads([&](int t) {
      for (int rep = 0; rep < 2; ++rep) {
        std::vector<float> got;
        if (layer_job.Forward(ctx.get(), layer, &got) == MHA_OK && got == want_layer) ++matches[t];
        if (linear_job.Forward(linear, &got) == MHA_OK && got == want_linear) ++matches[t];
      }
    });
    for (int t = 0; t < kThreads; ++t) CHECK(matches[t] == 4);
    mha_linear_destroy(linear);
    mha_layer_destroy(layer);
  }
}

TEST_CASE("threads: the thread count changes while calls run", "[threads]") {
  const std::vector<AttentionJob> jobs = Jobs();
  for (const std::string& backend : LayerBackends()) {
    INFO("backend " << backend);
    ScopedContext ctx(backend.c_str());
    REQUIRE(ctx.status() == MHA_OK);
    std::vector<int> ran(kThreads, 0);
    OnThreads([&](int t) {
      for (int rep = 0; rep < 6; ++rep) {
        if (t == 0) {
          ran[t] += mha_context_set_num_threads(ctx.get(), 1 + rep % 3) == MHA_OK;
          continue;
        }
        std::vector<float> got;
        ran[t] += jobs[(rep + t) % jobs.size()].Run(ctx.get(), &got) == MHA_OK;
      }
    });
    for (int t = 0; t < kThreads; ++t) CHECK(ran[t] == 6);
  }
}

// Each test case is a process of its own, so no module is loaded when it starts. The
// test module runs head_dim 4 only: the job falls through to the reference.
TEST_CASE("threads: modules load while contexts are created and backends are queried",
          "[threads][plugin]") {
  const char* path = std::getenv("MHA_PLUGIN_PATH");
  ScopedEnv plugin_path("MHA_PLUGIN_PATH",
                        std::string(MHA_TEST_MODULE_DIR) + (path ? std::string(":") + path : ""));
  const std::vector<AttentionJob> jobs = Jobs();
  ScopedContext reference("reference");
  REQUIRE(reference.status() == MHA_OK);
  std::vector<float> want;
  REQUIRE(jobs[0].Run(reference.get(), &want) == MHA_OK);
  bool onednn = false;
  for (int i = 0; i < mha_backend_count(); ++i)
    onednn |= std::string(mha_backend_name(i)) == "onednn";
  const char* module = "testmod";
  const char* backends = onednn ? "testmod,onednn,reference" : "testmod,reference";

  std::vector<int> available(kThreads, -1), created(kThreads, 0), close(kThreads, 0);
  std::vector<std::string> versions(kThreads);
  OnThreads([&](int t) {
    switch (t % 3) {
      case 0:
        available[t] = mha_backend_available(t % 2 || !onednn ? module : "onednn");
        break;
      case 1:
        versions[t] = mha_backend_version(module) ? mha_backend_version(module) : "";
        break;
      default:
        break;
    }
    ScopedContext ctx(backends);
    created[t] = ctx.status() == MHA_OK;
    std::vector<float> got;
    if (created[t] && jobs[0].Run(ctx.get(), &got) == MHA_OK && got.size() == want.size()) {
      close[t] = 1;
      for (size_t i = 0; i < got.size(); ++i) close[t] &= std::fabs(got[i] - want[i]) <= 1e-4;
    }
  });
  for (int t = 0; t < kThreads; ++t) {
    INFO("thread " << t);
    CHECK(created[t] == 1);
    CHECK(close[t] == 1);
    if (t % 3 == 0) CHECK(available[t] == 1);
    if (t % 3 == 1) CHECK(!versions[t].empty());
  }
}

}  // namespace
}  // namespace mha_test
