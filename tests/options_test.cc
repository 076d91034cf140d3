// Context options against the environment, the ISA table of the C API, and option
// structs of other versions than the library's (struct_size).
#include <catch2/catch.hpp>

#include <cctype>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "mha/kit/isa.h"
#include "mha/mha.h"
#include "mha/mha.hpp"
#include "test_util.h"

namespace mha_test {
namespace {

using Catch::Matchers::Contains;

// A SIMD level of this architecture below native, its Highway target, and a level of
// another architecture.
#if defined(__aarch64__)
constexpr mha_isa kLowIsa = MHA_ISA_NEON;
constexpr const char* kLowTarget = "NEON";
constexpr mha_isa kForeignIsa = MHA_ISA_SSE4;
#else
constexpr mha_isa kLowIsa = MHA_ISA_SSE4;
constexpr const char* kLowTarget = "SSE4";
constexpr mha_isa kForeignIsa = MHA_ISA_NEON;
#endif

TEST_CASE("options: a setting given is not read from the environment", "[options][env]") {
  ScopedEnv backend("MHA_BACKEND", "nonsense");
  ScopedEnv threads("MHA_NUM_THREADS", "many");
  ScopedEnv isa("MHA_MAX_ISA", "avx9");
  ScopedEnv verbose("MHA_VERBOSE", "9");
  ScopedEnv budget("MHA_ONEDNN_SCORES_BUDGET_MB", "none");
  mha_context_options options = BackendOptions("highway");
  options.num_threads = 2;
  options.max_isa = kLowIsa;
  options.verbose = 0;
  options.onednn_scores_budget_mb = 8;
  ScopedContext ctx(options);
  REQUIRE(ctx.status() == MHA_OK);
  CHECK(std::string(mha_context_isa(ctx.get())) == kLowTarget);
}

TEST_CASE("options: a setting left to the environment reads its variable", "[options][env]") {
  SECTION("a malformed variable is an error") {
    ScopedEnv isa("MHA_MAX_ISA", "avx9");
    ScopedContext ctx(BackendOptions("reference"));
    CHECK(ctx.status() == MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains(std::string("MHA_MAX_ISA=\"avx9\": expected one of "
                                                      "scalar, ") +
                                          mha_isa_name(kLowIsa)));
  }
  SECTION("a valid one takes effect") {
    ScopedEnv isa("MHA_MAX_ISA", "scalar");
    ScopedContext ctx(BackendOptions("highway"));
    REQUIRE(ctx.status() == MHA_OK);
    CHECK(std::string(mha_context_isa(ctx.get())) != "AVX2");
  }
  SECTION("NULL options read everything") {
    ScopedEnv backend("MHA_BACKEND", "reference");
    mha_context* ctx = nullptr;
    REQUIRE(mha_context_create_with(nullptr, &ctx) == MHA_OK);
    CHECK(std::string(mha_context_backend(ctx)) == "reference");
    mha_context_destroy(ctx);
  }
}

TEST_CASE("options: bad values are named", "[options][errors]") {
  struct Bad {
    void (*set)(mha_context_options*);
    const char* message;
  };
  const Bad cases[] = {
      {[](mha_context_options* o) { o->num_threads = -2; }, "options->num_threads=-2"},
      {[](mha_context_options* o) { o->num_threads = 5000; }, "options->num_threads=5000"},
      {[](mha_context_options* o) { o->max_isa = 17; }, "options->max_isa=17: expected an mha_isa"},
      {[](mha_context_options* o) { o->verbose = 3; }, "options->verbose=3: expected 0, 1 or 2"},
      {[](mha_context_options* o) { o->onednn_scores_budget_mb = 0; },
       "options->onednn_scores_budget_mb=0"},
      {[](mha_context_options* o) { o->backend = "nonsense"; }, "backend \"nonsense\""},
  };
  for (const Bad& bad : cases) {
    mha_context_options options = BackendOptions("reference");
    bad.set(&options);
    ScopedContext ctx(options);
    INFO(bad.message);
    CHECK(ctx.status() != MHA_OK);
    CHECK(ctx.get() == nullptr);
    CHECK_THAT(mha_last_error(), Contains(bad.message));
  }
}

TEST_CASE("options: the C++ wrapper passes every setting", "[options]") {
  mha::ContextOptions options;
  options.Backend("highway").MaxIsa(kLowIsa).NumThreads(1).Verbose(0);
  const mha::ContextOptions copy = options;  // keeps its own strings
  options.Backend("reference");
  mha::Context ctx(copy);
  CHECK(ctx.backend() == "highway");
  CHECK(ctx.isa() == kLowTarget);
  CHECK_THROWS_AS(mha::Context(mha::ContextOptions().Backend("highway").Verbose(7)),
                  mha::Error);
}

TEST_CASE("isa: a level of another architecture is refused", "[options][env]") {
  mha_context_options options = BackendOptions("highway");
  options.max_isa = kForeignIsa;
  ScopedContext by_option(options);
  CHECK(by_option.status() == MHA_ERR_INVALID_ARGUMENT);
  CHECK_THAT(mha_last_error(), Contains(mha_isa_name(kForeignIsa)) &&
                                   Contains("level and this library runs on"));
  ScopedEnv isa("MHA_MAX_ISA", mha_isa_name(kForeignIsa));
  ScopedContext by_env(BackendOptions("highway"));
  CHECK(by_env.status() == MHA_ERR_INVALID_ARGUMENT);
  CHECK_THAT(mha_last_error(), Contains("MHA_MAX_ISA") && Contains("expected one of scalar"));
}

TEST_CASE("isa: names, parsing and support come from one table", "[options]") {
  for (const mha::IsaLevel& level : mha::kIsaLevels) {
    INFO(level.name);
    CHECK(std::string(mha_isa_name(level.isa)) == level.name);
    mha_isa parsed = MHA_ISA_SCALAR;
    const std::string upper = [&] {
      std::string s = level.name;
      for (char& c : s) c = static_cast<char>(std::toupper(c));
      return s;
    }();
    REQUIRE(mha_isa_from_name(upper.c_str(), &parsed) == MHA_OK);
    CHECK(parsed == level.isa);
  }
  CHECK(mha_isa_name(static_cast<mha_isa>(42)) == nullptr);
  mha_isa parsed;
  CHECK(mha_isa_from_name("avx9", &parsed) == MHA_ERR_INVALID_ARGUMENT);
  CHECK_THAT(mha_last_error(), Contains("\"avx9\" is not an ISA level") &&
                                   Contains("scalar, sse4, avx2, avx512, avx512_bf16, neon, "
                                            "sve, sve2, native"));
  CHECK(mha_isa_supported(MHA_ISA_SCALAR) == 1);
  CHECK(mha_isa_supported(MHA_ISA_NATIVE) == 1);
  CHECK(mha_isa_supported(static_cast<mha_isa>(42)) == 0);
  CHECK(mha_isa_supported(kForeignIsa) == 0);
#if defined(__x86_64__)
  CHECK(mha_isa_supported(MHA_ISA_AVX2) == (__builtin_cpu_supports("avx2") ? 1 : 0));
  CHECK(mha_isa_supported(MHA_ISA_AVX512_BF16) ==
        (__builtin_cpu_supports("avx512bf16") ? 1 : 0));
#endif
}

// mha_attention_desc as a header without q_lens declared it.
struct OlderAttentionDesc {
  size_t struct_size;
  float scale;
  int causal;
  int64_t window_left, window_right;
  float softcap;
  const float* alibi_slopes;
  const mha_tensor* bias;
  const int32_t* kv_lens;
  mha_tensor* probs;
  float* lse;
};
static_assert(sizeof(OlderAttentionDesc) == offsetof(mha_attention_desc, q_lens),
              "the older desc is the current one without its last field");

// A newer header's desc: one field more.
struct NewerAttentionDesc {
  mha_attention_desc known;
  int64_t added_later;
};

// A small causal problem to run with descs of each version.
struct CausalCall {
  ScopedContext ctx{"reference"};
  Dense q{1, 4, 2, 8}, k{1, 6, 2, 8}, v{1, 6, 2, 8}, out{1, 4, 2, 8};
  CausalCall() {
    std::mt19937_64 rng(3);
    q.Randomize(rng), k.Randomize(rng), v.Randomize(rng);
  }
  mha_status Run(const void* desc) {
    return mha_attention(ctx.get(), q.get(), k.get(), v.get(), out.get(),
                         static_cast<const mha_attention_desc*>(desc));
  }
};

TEST_CASE("struct_size: an older caller's desc is read without its missing fields",
          "[options][abi]") {
  // The older struct inside a larger buffer: init must not write past it.
  unsigned char buffer[sizeof(OlderAttentionDesc) + 32];
  std::memset(buffer, 0xab, sizeof buffer);
  auto* older = reinterpret_cast<OlderAttentionDesc*>(buffer);
  mha_attention_desc_init_size(reinterpret_cast<mha_attention_desc*>(older),
                               sizeof(OlderAttentionDesc));
  for (size_t i = sizeof(OlderAttentionDesc); i < sizeof buffer; ++i) {
    REQUIRE(buffer[i] == 0xab);
  }
  CHECK(older->struct_size == sizeof(OlderAttentionDesc));
  CHECK(older->window_left == -1);
  older->causal = 1;

  CausalCall call;
  REQUIRE(call.Run(older) == MHA_OK);  // q_lens, unknown to it, reads as NULL
  const std::vector<float> got = call.out.values;
  mha_attention_desc current;
  mha_attention_desc_init(&current);
  current.causal = 1;
  REQUIRE(call.Run(&current) == MHA_OK);
  CHECK(got == call.out.values);
}

TEST_CASE("struct_size: a newer caller's desc is taken only if its new fields are unset",
          "[options][abi]") {
  NewerAttentionDesc newer;
  mha_attention_desc_init_size(&newer.known, sizeof newer);
  newer.added_later = 0;
  newer.known.causal = 1;
  CausalCall call;
  CHECK(call.Run(&newer) == MHA_OK);
  newer.added_later = 5;
  CHECK(call.Run(&newer) == MHA_ERR_UNSUPPORTED);
  CHECK_THAT(mha_last_error(), Contains("desc->struct_size=") && Contains("newer"));
}

TEST_CASE("struct_size: a struct never initialised is refused", "[options][abi][errors]") {
  mha_attention_desc zero{};
  CausalCall call;
  CHECK(call.Run(&zero) == MHA_ERR_INVALID_ARGUMENT);
  CHECK_THAT(mha_last_error(), Contains("desc->struct_size=0") &&
                                   Contains("init function"));
  mha_context_options options{};
  ScopedContext ctx(options);
  CHECK(ctx.status() == MHA_ERR_INVALID_ARGUMENT);
  CHECK_THAT(mha_last_error(), Contains("options->struct_size=0"));
}

// mha_layer_options and mha_context_options of headers that lacked their last field.
struct OlderLayerOptions {
  size_t struct_size;
  const int32_t *q_lens, *kv_lens;
  const mha_tensor* attn_mask;
  mha_tensor* probs;
  float* lse;
};
static_assert(sizeof(OlderLayerOptions) == offsetof(mha_layer_options, position_offset), "");
struct OlderContextOptions {
  size_t struct_size;
  const char* backend;
  int num_threads, max_isa, verbose;
  const char* plugin_path;
};
static_assert(sizeof(OlderContextOptions) ==
                  offsetof(mha_context_options, onednn_scores_budget_mb), "");

TEST_CASE("struct_size: older context and layer options work", "[options][abi]") {
  OlderContextOptions context_options;
  mha_context_options_init_size(reinterpret_cast<mha_context_options*>(&context_options),
                                sizeof context_options);
  CHECK(context_options.max_isa == MHA_FROM_ENVIRONMENT);
  context_options.backend = "reference";
  mha_context* ctx = nullptr;
  REQUIRE(mha_context_create_with(reinterpret_cast<mha_context_options*>(&context_options),
                                  &ctx) == MHA_OK);
  CHECK(std::string(mha_context_backend(ctx)) == "reference");

  const int64_t d_model = 8;
  std::vector<float> w(4 * d_model * d_model, 0.01f);
  mha_layer_desc desc;
  mha_layer_desc_init(&desc);
  desc.d_model = d_model;
  desc.num_heads = 2;
  desc.in_proj_weight = w.data();
  desc.wo = w.data() + 3 * d_model * d_model;
  mha_layer* layer = nullptr;
  REQUIRE(mha_layer_create(ctx, &desc, &layer) == MHA_OK);
  Dense x(1, 3, 1, d_model, 1.0f), out(1, 3, 1, d_model);
  OlderLayerOptions layer_options;
  mha_layer_options_init_size(reinterpret_cast<mha_layer_options*>(&layer_options),
                              sizeof layer_options);
  CHECK(layer_options.struct_size == sizeof layer_options);
  CHECK(mha_layer_forward(layer, x.get(), nullptr, out.get(),
                          reinterpret_cast<mha_layer_options*>(&layer_options),
                          nullptr) == MHA_OK);
  CHECK(out.values[0] != 0.0f);
  mha_layer_destroy(layer);
  mha_context_destroy(ctx);
}

}  // namespace
}  // namespace mha_test
