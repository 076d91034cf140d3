// The catalogue of bad inputs, docs/bad-inputs.md, as one table: each entry here builds
// one bad input and makes the call; the status and the message fragment it must give
// are read from the document's rows, so the two cannot drift apart.
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "layer_util.h"
#include "test_util.h"

// Under AddressSanitizer or ThreadSanitizer an allocation past what the sanitizer
// supports is fatal, whatever its options (a failing operator new reports and
// aborts): the out-of-memory rows run in the other builds only.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MHA_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MHA_TEST_SANITIZED 1
#endif

namespace mha_test {
namespace {

using Catch::Matchers::Contains;

// ---- The document's rows ----------------------------------------------------------

struct Row {
  std::string status;
  std::string fragment;
};

std::string Trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// The text inside a cell written as one code span, `like this`; "" when it is not one.
std::string CodeSpan(const std::string& cell) {
  const std::string c = Trim(cell);
  if (c.size() < 3 || c.front() != '`' || c.back() != '`') return "";
  const std::string inner = c.substr(1, c.size() - 2);
  return inner.find('`') == std::string::npos ? inner : "";
}

// Every catalogue row, `| name | input | status | message contains |`, by name; what
// cannot be read goes to *problems.
std::map<std::string, Row> ReadCatalogue(std::vector<std::string>* problems) {
  std::ifstream file(MHA_BAD_INPUTS_DOC);
  if (!file) problems->push_back("cannot open " MHA_BAD_INPUTS_DOC);
  std::map<std::string, Row> rows;
  std::string line;
  for (int number = 1; std::getline(file, line); ++number) {
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream stream(line.substr(1));
    for (std::string cell; std::getline(stream, cell, '|');) cells.push_back(cell);
    const std::string where = "line " + std::to_string(number) + ": ";
    if (cells.size() != 4) {
      problems->push_back(where + "a row has 4 cells, this one " + std::to_string(cells.size()));
      continue;
    }
    const std::string name = CodeSpan(cells[0]);
    const Row row = {CodeSpan(cells[2]), CodeSpan(cells[3])};
    if (name.empty() || row.status.empty() || row.fragment.empty()) {
      problems->push_back(where + "name, status and message must each be one code span");
    } else if (!rows.emplace(name, row).second) {
      problems->push_back(where + "a second row named " + name);
    }
  }
  if (rows.empty()) problems->push_back("no catalogue rows in " MHA_BAD_INPUTS_DOC);
  return rows;
}

// ---- What an entry returns ---------------------------------------------------------

struct Outcome {
  mha_status status = MHA_OK;
  std::string message;
  std::string skipped;  // why the entry did not run, or ""
};

// The call's status and the message it left; takes the call's result as its argument so
// that nothing runs in between.
Outcome Got(mha_status status) { return {status, mha_last_error(), ""}; }

Outcome Skipped(const std::string& why) { return {MHA_OK, "", why}; }

using Entry = std::pair<std::string, std::function<Outcome()>>;

// ---- Inputs ----------------------------------------------------------------------------

#if defined(__aarch64__)
constexpr mha_isa kLowIsa = MHA_ISA_NEON;
constexpr mha_isa kForeignIsa = MHA_ISA_SSE4;
#else
constexpr mha_isa kLowIsa = MHA_ISA_SSE4;
constexpr mha_isa kForeignIsa = MHA_ISA_NEON;
#endif

constexpr int64_t Pow2(int e) { return int64_t{1} << e; }

// Every axis but the last at stride 0: any dims over one row of data.
void Broadcast(mha_tensor* t, int64_t d0, int64_t d1) {
  t->dims[0] = d0;
  t->dims[1] = d1;
  t->strides[0] = t->strides[1] = 0;
}

// An option struct as a newer header writes it: 4096 bytes, its last one set.
template <typename T>
struct Newer {
  alignas(alignof(std::max_align_t)) unsigned char bytes[4096] = {};
  explicit Newer(void (*init)(T*, size_t)) {
    init(get(), sizeof bytes);
    bytes[sizeof bytes - 1] = 1;
  }
  T* get() { return reinterpret_cast<T*>(bytes); }
};

// Options for `backend` that find the test modules.
mha_context_options ModuleOptions(const char* backend) {
  mha_context_options options = BackendOptions(backend);
  options.plugin_path = MHA_TEST_MODULE_DIR;
  return options;
}

Outcome CreateWith(const mha_context_options& options) {
  mha_context* ctx = nullptr;
  const Outcome outcome = Got(mha_context_create_with(&options, &ctx));
  mha_context_destroy(ctx);
  return outcome;
}

Outcome Create(const char* backend) {
  mha_context* ctx = nullptr;
  const Outcome outcome = Got(mha_context_create(backend, &ctx));
  mha_context_destroy(ctx);
  return outcome;
}

// The default attention call (docs/bad-inputs.md): B 2, Lq 3, Lk 5, Hq 4, Hkv 2, D 8.
struct Attn {
  Dense q{2, 3, 4, 8}, k{2, 5, 2, 8}, v{2, 5, 2, 8}, out{2, 3, 4, 8};
  mha_attention_desc desc;
  ScopedContext ctx;
  explicit Attn(const char* backend = "reference") : ctx(backend) {
    mha_attention_desc_init(&desc);
  }
  Outcome Run(const mha_attention_desc* d) {
    return Got(mha_attention(ctx.get(), q.get(), k.get(), v.get(), out.get(), d));
  }
  Outcome Run() { return Run(&desc); }
};

Entry AttnCase(const char* name, std::function<void(Attn&)> change) {
  return {name, [change] {
            Attn a;
            change(a);
            return a.Run();
          }};
}

// The default linear layer: 8 out and 16 in features, x [2, 3, 1, 16], y [2, 3, 1, 8].
struct Lin {
  ScopedContext ctx{"reference"};
  std::vector<float> w = std::vector<float>(8 * 16, 0.01f);
  std::vector<float> xs = std::vector<float>(2 * 3 * 16, 0.5f);
  std::vector<float> ys = std::vector<float>(2 * 3 * 8);
  mha_tensor x = ContiguousView(xs.data(), MHA_F32, 2, 3, 1, 16);
  mha_tensor y = ContiguousView(ys.data(), MHA_F32, 2, 3, 1, 8);
  mha_linear* linear = nullptr;
  Lin() {
    REQUIRE(mha_linear_create(ctx.get(), 8, 16, MHA_F32, w.data(), nullptr, &linear) == MHA_OK);
  }
  ~Lin() { mha_linear_destroy(linear); }
  Outcome Run() { return Got(mha_linear_forward(linear, &x, &y)); }
};

Entry LinearForwardCase(const char* name, std::function<void(Lin&)> change) {
  return {name, [change] {
            Lin l;
            change(l);
            return l.Run();
          }};
}

// dtype travels as an int: UBSan reports a load of an mha_dtype variable that holds
// no enumerator, so an unknown one is made only as the call's argument.
Outcome CreateLinear(mha_context* ctx, int64_t out_features, int64_t in_features, int dtype,
                     const void* weight) {
  mha_linear* linear = nullptr;
  const Outcome outcome = Got(mha_linear_create(ctx, out_features, in_features,
                                                static_cast<mha_dtype>(dtype), weight, nullptr,
                                                &linear));
  mha_linear_destroy(linear);
  return outcome;
}

// The default layer's desc: d_model 16, 2 heads of 8, in_proj_weight and wo.
struct LayerDesc {
  std::vector<float> in_proj = std::vector<float>(3 * 16 * 16, 0.01f);
  std::vector<float> w = std::vector<float>(16 * 16, 0.01f);  // wq, wk, wv or wo
  std::vector<float> bias = std::vector<float>(3 * 16, 0.0f);
  std::vector<float> alibi = {0.5f, std::nanf("")};
  mha_layer_desc desc;
  LayerDesc() {
    mha_layer_desc_init(&desc);
    desc.d_model = 16;
    desc.num_heads = 2;
    desc.in_proj_weight = in_proj.data();
    desc.wo = w.data();
  }
  // Cross-attention over 8 features of x_kv: separate wq, wk, wv.
  void MakeCross() {
    desc.in_proj_weight = nullptr;
    desc.kv_d_model = 8;
    desc.wq = desc.wk = desc.wv = w.data();
  }
};

Outcome CreateLayer(const mha_context_options& options, const mha_layer_desc* desc) {
  ScopedContext ctx(options);
  REQUIRE(ctx.status() == MHA_OK);
  mha_layer* layer = nullptr;
  const Outcome outcome = Got(mha_layer_create(ctx.get(), desc, &layer));
  mha_layer_destroy(layer);
  return outcome;
}

Entry LayerCase(const char* name, std::function<void(LayerDesc&)> change,
                const char* backend = "reference") {
  return {name, [change, backend] {
            LayerDesc s;
            change(s);
            return CreateLayer(ModuleOptions(backend), &s.desc);
          }};
}

// A default layer's forward: x and out [2, 3, 1, 16].
struct Fwd {
  ScopedContext ctx{"reference"};
  LayerDesc s;
  mha_layer* layer = nullptr;
  std::vector<float> xs = std::vector<float>(2 * 4 * 16, 0.5f);  // x or x_kv
  std::vector<float> outs = std::vector<float>(2 * 3 * 16);
  mha_tensor x = ContiguousView(xs.data(), MHA_F32, 2, 3, 1, 16);
  mha_tensor out = ContiguousView(outs.data(), MHA_F32, 2, 3, 1, 16);
  mha_tensor kv_view{};
  const mha_tensor* x_kv = nullptr;
  mha_layer_options options;
  mha_kv_cache* cache = nullptr;

  explicit Fwd(bool cross = false) {
    mha_layer_options_init(&options);
    if (cross) s.MakeCross();
    REQUIRE(mha_layer_create(ctx.get(), &s.desc, &layer) == MHA_OK);
  }
  ~Fwd() {
    mha_kv_cache_destroy(cache);
    mha_layer_destroy(layer);
  }
  void UseCache(int64_t batch, int64_t capacity) {
    REQUIRE(mha_kv_cache_create(ctx.get(), batch, 2, capacity, 8, MHA_F32, &cache) == MHA_OK);
  }
  void UseXkv(int64_t batch, int64_t len, int64_t features) {
    kv_view = ContiguousView(xs.data(), MHA_F32, batch, len, 1, features);
    x_kv = &kv_view;
  }
  Outcome Run(const mha_layer_options* o) {
    return Got(mha_layer_forward(layer, &x, x_kv, &out, o, cache));
  }
  Outcome Run() { return Run(&options); }
};

Entry ForwardCase(const char* name, std::function<void(Fwd&)> change, bool cross = false) {
  return {name, [change, cross] {
            Fwd f(cross);
            change(f);
            return f.Run();
          }};
}

// The default KV cache's create: batch 2, 2 KV heads, capacity 4, head_dim 8 (dtype
// an int, as in CreateLinear).
Outcome CreateCache(int64_t batch, int64_t heads, int64_t capacity, int64_t head_dim, int dtype) {
  ScopedContext ctx("reference");
  mha_kv_cache* cache = nullptr;
  const Outcome outcome = Got(mha_kv_cache_create(ctx.get(), batch, heads, capacity, head_dim,
                                                  static_cast<mha_dtype>(dtype), &cache));
  mha_kv_cache_destroy(cache);
  return outcome;
}

Outcome Truncate(int64_t b, int64_t length) {
  ScopedContext ctx("reference");
  mha_kv_cache* cache = nullptr;
  REQUIRE(mha_kv_cache_create(ctx.get(), 2, 2, 4, 8, MHA_F32, &cache) == MHA_OK);
  const Outcome outcome = Got(mha_kv_cache_truncate(cache, b, length));
  mha_kv_cache_destroy(cache);
  return outcome;
}

// ---- The entries, in the document's order ------------------------------------------

std::vector<Entry> ContextEntries() {
  const auto options = [](const char* name, std::function<void(mha_context_options&)> change) {
    return Entry{name, [change] {
                   mha_context_options o = BackendOptions("reference");
                   change(o);
                   return CreateWith(o);
                 }};
  };
  const auto backend = [](const char* name, const char* backend_name) {
    return Entry{name, [backend_name] { return CreateWith(ModuleOptions(backend_name)); }};
  };
  return {
      {"context-create-null-out", [] { return Got(mha_context_create("reference", nullptr)); }},
      {"context-create-with-null-out",
       [] {
         const mha_context_options o = BackendOptions("reference");
         return Got(mha_context_create_with(&o, nullptr));
       }},
      options("context-options-struct-size-zero",
              [](mha_context_options& o) { o.struct_size = 0; }),
      options("context-options-struct-size-too-large",
              [](mha_context_options& o) { o.struct_size = 4097; }),
      {"context-options-newer-field",
       [] {
         Newer<mha_context_options> o(mha_context_options_init_size);
         o.get()->backend = "reference";
         return CreateWith(*o.get());
       }},
      options("context-num-threads-negative", [](mha_context_options& o) { o.num_threads = -2; }),
      options("context-num-threads-too-many",
              [](mha_context_options& o) { o.num_threads = 4097; }),
      options("context-verbose-out-of-range", [](mha_context_options& o) { o.verbose = 3; }),
      options("context-scores-budget-zero",
              [](mha_context_options& o) { o.onednn_scores_budget_mb = 0; }),
      options("context-scores-budget-too-large",
              [](mha_context_options& o) { o.onednn_scores_budget_mb = Pow2(30) + 1; }),
      options("context-max-isa-unknown", [](mha_context_options& o) { o.max_isa = 99; }),
      options("context-max-isa-other-arch",
              [](mha_context_options& o) { o.max_isa = kForeignIsa; }),
      backend("context-backend-empty-list", " , "),
      backend("context-backend-unknown", "nonsense"),
      backend("context-backend-unknown-in-list", "reference,nonsense"),
      backend("context-backend-not-a-name", "../evil"),
      {"context-module-not-a-library",
       [] {
         char dir[] = "/tmp/mha_bad_inputs_XXXXXX";
         REQUIRE(mkdtemp(dir) != nullptr);
         const std::string file = std::string(dir) + "/libmha_backend_notalib.so";
         std::ofstream(file) << "not a library\n";
         mha_context_options o = BackendOptions("notalib");
         o.plugin_path = dir;
         const Outcome outcome = CreateWith(o);
         std::remove(file.c_str());
         rmdir(dir);
         return outcome;
       }},
      backend("context-module-no-entry", "noentry"),
      backend("context-module-old-abi", "oldabi"),
      backend("context-module-missing-dependency", "missingdep"),
      {"context-onednn-isa-conflict",
       [] {
         if (!mha_backend_available("onednn")) return Skipped("onednn is not available");
         ScopedContext uncapped(CappedOptions("onednn", MHA_ISA_NATIVE));
         REQUIRE(uncapped.status() == MHA_OK);
         return CreateWith(CappedOptions("onednn", kLowIsa));
       }},
  };
}

std::vector<Entry> EnvironmentEntries() {
  const auto env = [](const char* name, const char* variable, std::string value,
                      const char* backend = "reference") {
    return Entry{name, [variable, value, backend] {
                   ScopedEnv scoped(variable, value);
                   return Create(backend);
                 }};
  };
  return {
      env("env-backend-unknown", "MHA_BACKEND", "nonsense", nullptr),
      env("env-backend-empty-list", "MHA_BACKEND", ",", nullptr),
      env("env-num-threads-not-a-number", "MHA_NUM_THREADS", "many"),
      env("env-num-threads-zero", "MHA_NUM_THREADS", "0"),
      env("env-num-threads-too-many", "MHA_NUM_THREADS", "4097"),
      env("env-num-threads-trailing-text", "MHA_NUM_THREADS", "4x"),
      env("env-max-isa-unknown", "MHA_MAX_ISA", "avx9"),
      env("env-max-isa-other-arch", "MHA_MAX_ISA", mha_isa_name(kForeignIsa)),
      env("env-verbose-out-of-range", "MHA_VERBOSE", "3"),
      env("env-verbose-not-a-number", "MHA_VERBOSE", "yes"),
      env("env-scores-budget-zero", "MHA_ONEDNN_SCORES_BUDGET_MB", "0"),
      env("env-scores-budget-with-unit", "MHA_ONEDNN_SCORES_BUDGET_MB", "64MB"),
      env("env-plugin-path-broken-module", "MHA_PLUGIN_PATH", MHA_TEST_MODULE_DIR, "oldabi"),
  };
}

std::vector<Entry> ThreadAndIsaEntries() {
  const auto from_name = [](const char* name, const char* isa_name) {
    return Entry{name, [isa_name] {
                   mha_isa isa;
                   return Got(mha_isa_from_name(isa_name, &isa));
                 }};
  };
  return {
      {"set-num-threads-null-ctx", [] { return Got(mha_context_set_num_threads(nullptr, 1)); }},
      {"set-num-threads-negative",
       [] {
         ScopedContext ctx("reference");
         return Got(mha_context_set_num_threads(ctx.get(), -1));
       }},
      {"set-num-threads-too-many",
       [] {
         ScopedContext ctx("reference");
         return Got(mha_context_set_num_threads(ctx.get(), 4097));
       }},
      {"isa-from-name-null-out", [] { return Got(mha_isa_from_name("avx2", nullptr)); }},
      from_name("isa-from-name-unknown", "avx9"),
      from_name("isa-from-name-null-name", nullptr),
      from_name("isa-from-name-empty", ""),
  };
}

std::vector<Entry> AttentionEntries() {
  static const int32_t kv_above[2] = {5, 6}, kv_negative[2] = {-1, 5};
  static const int32_t q_above[2] = {3, 4}, q_negative[2] = {-1, 3};
  static const float slopes[4] = {1, 1, std::numeric_limits<float>::infinity(), 1};
  // desc.bias or desc.probs: a tensor of the given dims, changed by `change`.
  const auto with = [](const char* name, bool bias, std::vector<int64_t> d,
                       std::function<void(mha_tensor&)> change) {
    return Entry{name, [bias, d, change] {
                   Attn a;
                   Dense t(d[0], d[1], d[2], d[3]);
                   change(t.view);
                   if (bias) {
                     a.desc.bias = t.get();
                   } else {
                     a.desc.probs = t.get();
                   }
                   return a.Run();
                 }};
  };
  const auto as_is = [](mha_tensor&) {};
  // One of q, k, v, out (by index) NULL.
  const auto null_tensor = [](const char* name, int which) {
    return Entry{name, [which] {
                   Attn a;
                   mha_tensor* t[4] = {a.q.get(), a.k.get(), a.v.get(), a.out.get()};
                   t[which] = nullptr;
                   return Got(mha_attention(a.ctx.get(), t[0], t[1], t[2], t[3], nullptr));
                 }};
  };
  return {
      {"attention-null-ctx",
       [] {
         Attn a;
         return Got(mha_attention(nullptr, a.q.get(), a.k.get(), a.v.get(), a.out.get(), nullptr));
       }},
      null_tensor("attention-null-q", 0),
      null_tensor("attention-null-k", 1),
      null_tensor("attention-null-v", 2),
      null_tensor("attention-null-out", 3),
      AttnCase("attention-q-dtype-unknown", [](Attn& a) { a.q.view.dtype = mha_dtype(7); }),
      AttnCase("attention-out-dtype-unknown", [](Attn& a) { a.out.view.dtype = mha_dtype(-1); }),
      AttnCase("attention-zero-batch", [](Attn& a) { a.q.view.dims[0] = 0; }),
      AttnCase("attention-zero-heads", [](Attn& a) { a.q.view.dims[2] = 0; }),
      AttnCase("attention-zero-head-dim", [](Attn& a) { a.v.view.dims[3] = 0; }),
      AttnCase("attention-negative-kv-len", [](Attn& a) { a.k.view.dims[1] = -1; }),
      AttnCase("attention-negative-stride", [](Attn& a) { a.out.view.strides[1] = -32; }),
      AttnCase("attention-head-dim-stride", [](Attn& a) { a.q.view.strides[3] = 2; }),
      AttnCase("attention-null-data", [](Attn& a) { a.k.view.data = nullptr; }),
      AttnCase("attention-offset-overflow", [](Attn& a) { a.k.view.strides[1] = Pow2(62); }),
      AttnCase("attention-byte-offset-overflow",
               [](Attn& a) { a.k.view.strides[0] = Pow2(61); }),
      AttnCase("attention-k-batch", [](Attn& a) { a.k.view.dims[0] = 1; }),
      AttnCase("attention-v-batch", [](Attn& a) { a.v.view.dims[0] = 1; }),
      AttnCase("attention-out-batch", [](Attn& a) { a.out.view.dims[0] = 1; }),
      AttnCase("attention-k-head-dim", [](Attn& a) { a.k.view.dims[3] = 6; }),
      AttnCase("attention-v-kv-len", [](Attn& a) { a.v.view.dims[1] = 4; }),
      AttnCase("attention-v-kv-heads", [](Attn& a) { a.v.view.dims[2] = 1; }),
      AttnCase("attention-out-q-len", [](Attn& a) { a.out.view.dims[1] = 2; }),
      AttnCase("attention-out-heads", [](Attn& a) { a.out.view.dims[2] = 2; }),
      AttnCase("attention-out-v-head-dim", [](Attn& a) { a.out.view.dims[3] = 4; }),
      AttnCase("attention-heads-not-multiple",
               [](Attn& a) { a.k.view.dims[2] = a.v.view.dims[2] = 3; }),
      AttnCase("attention-kv-dtypes-differ", [](Attn& a) { a.v.view.dtype = MHA_BF16; }),
      AttnCase("attention-desc-struct-size-zero", [](Attn& a) { a.desc.struct_size = 0; }),
      AttnCase("attention-desc-struct-size-too-large",
               [](Attn& a) { a.desc.struct_size = 4097; }),
      {"attention-desc-newer-field",
       [] {
         Attn a;
         Newer<mha_attention_desc> d(mha_attention_desc_init_size);
         return a.Run(d.get());
       }},
      AttnCase("attention-scale-negative", [](Attn& a) { a.desc.scale = -1; }),
      AttnCase("attention-scale-infinite",
               [](Attn& a) { a.desc.scale = std::numeric_limits<float>::infinity(); }),
      AttnCase("attention-softcap-negative", [](Attn& a) { a.desc.softcap = -2; }),
      AttnCase("attention-softcap-nan", [](Attn& a) { a.desc.softcap = std::nanf(""); }),
      AttnCase("attention-causal-not-flag", [](Attn& a) { a.desc.causal = 2; }),
      AttnCase("attention-window-left-below-minus-one",
               [](Attn& a) { a.desc.window_left = -2; }),
      AttnCase("attention-window-right-below-minus-one",
               [](Attn& a) { a.desc.window_right = -5; }),
      AttnCase("attention-kv-lens-above", [](Attn& a) { a.desc.kv_lens = kv_above; }),
      AttnCase("attention-kv-lens-negative", [](Attn& a) { a.desc.kv_lens = kv_negative; }),
      AttnCase("attention-q-lens-above", [](Attn& a) { a.desc.q_lens = q_above; }),
      AttnCase("attention-q-lens-negative", [](Attn& a) { a.desc.q_lens = q_negative; }),
      AttnCase("attention-alibi-not-finite", [](Attn& a) { a.desc.alibi_slopes = slopes; }),
      with("attention-bias-dtype-unknown", true, {1, 1, 3, 5},
           [](mha_tensor& t) { t.dtype = mha_dtype(7); }),
      with("attention-bias-dtype", true, {1, 1, 3, 5}, [](mha_tensor& t) { t.dtype = MHA_BF16; }),
      with("attention-bias-zero-dim", true, {1, 1, 0, 5}, as_is),
      with("attention-bias-negative-stride", true, {1, 1, 3, 5},
           [](mha_tensor& t) { t.strides[3] = -1; }),
      with("attention-bias-null-data", true, {1, 1, 3, 5},
           [](mha_tensor& t) { t.data = nullptr; }),
      with("attention-bias-kv-len", true, {2, 4, 3, 4}, as_is),
      with("attention-bias-heads", true, {2, 2, 3, 5}, as_is),
      with("attention-probs-dtype", false, {2, 4, 3, 5}, [](mha_tensor& t) { t.dtype = MHA_BF16; }),
      with("attention-probs-heads", false, {2, 1, 3, 5}, as_is),
      with("attention-probs-kv-len", false, {2, 4, 3, 4}, as_is),
      with("attention-probs-null-data", false, {2, 4, 3, 5},
           [](mha_tensor& t) { t.data = nullptr; }),
      AttnCase("attention-rows-overflow",
               [](Attn& a) {
                 Broadcast(&a.q.view, Pow2(40), Pow2(40));
                 Broadcast(&a.out.view, Pow2(40), Pow2(40));
                 for (Dense* t : {&a.k, &a.v}) {
                   t->view.dims[0] = Pow2(40);
                   t->view.strides[0] = 0;
                 }
               }),
      {"attention-highway-kv-len-above-int32",
       [] {
         Attn a("highway");
         Broadcast(&a.k.view, 2, Pow2(31));
         Broadcast(&a.v.view, 2, Pow2(31));
         return a.Run();
       }},
      {"attention-reference-kv-len-too-large",
       [] {
         Attn a("reference");
         Broadcast(&a.k.view, 2, Pow2(61));
         Broadcast(&a.v.view, 2, Pow2(61));
         return a.Run();
       }},
  };
}

std::vector<Entry> LinearEntries() {
  const auto create = [](const char* name, int64_t out_features, int64_t in_features, int dtype,
                         bool weight) {
    return Entry{name, [=] {
                   ScopedContext ctx("reference");
                   const std::vector<float> w(8 * 16, 0.01f);
                   return CreateLinear(ctx.get(), out_features, in_features, dtype,
                                       weight ? w.data() : nullptr);
                 }};
  };
  return {
      {"linear-create-null-out",
       [] {
         ScopedContext ctx("reference");
         const std::vector<float> w(8 * 16);
         return Got(mha_linear_create(ctx.get(), 8, 16, MHA_F32, w.data(), nullptr, nullptr));
       }},
      {"linear-create-null-ctx",
       [] {
         const std::vector<float> w(8 * 16);
         return CreateLinear(nullptr, 8, 16, MHA_F32, w.data());
       }},
      create("linear-create-zero-out-features", 0, 16, MHA_F32, true),
      create("linear-create-zero-in-features", 8, 0, MHA_F32, true),
      create("linear-create-size-overflow", Pow2(32), Pow2(32), MHA_F32, true),
      create("linear-create-dtype-unknown", 8, 16, 7, true),
      create("linear-create-null-weight", 8, 16, MHA_F32, false),
      create("linear-create-too-large", Pow2(31), Pow2(31), MHA_F32, true),
      {"linear-create-no-gemm",
       [] {
         ScopedContext ctx(ModuleOptions("testmod"));
         REQUIRE(ctx.status() == MHA_OK);
         const std::vector<float> w(8 * 16);
         return CreateLinear(ctx.get(), 8, 16, MHA_F32, w.data());
       }},
      {"linear-forward-null-linear",
       [] {
         Lin l;
         return Got(mha_linear_forward(nullptr, &l.x, &l.y));
       }},
      {"linear-forward-null-x",
       [] {
         Lin l;
         return Got(mha_linear_forward(l.linear, nullptr, &l.y));
       }},
      {"linear-forward-null-y",
       [] {
         Lin l;
         return Got(mha_linear_forward(l.linear, &l.x, nullptr));
       }},
      LinearForwardCase("linear-forward-x-dtype-unknown",
                        [](Lin& l) { l.x.dtype = mha_dtype(7); }),
      LinearForwardCase("linear-forward-x-feature-stride", [](Lin& l) { l.x.strides[3] = 2; }),
      LinearForwardCase("linear-forward-y-null-data", [](Lin& l) { l.y.data = nullptr; }),
      LinearForwardCase("linear-forward-x-width",
                        [](Lin& l) { l.x = ContiguousView(l.xs.data(), MHA_F32, 2, 3, 1, 12); }),
      LinearForwardCase("linear-forward-x-heads-axis",
                        [](Lin& l) { l.x = ContiguousView(l.xs.data(), MHA_F32, 2, 3, 2, 8); }),
      LinearForwardCase("linear-forward-y-features",
                        [](Lin& l) { l.y = ContiguousView(l.ys.data(), MHA_F32, 2, 3, 1, 6); }),
      LinearForwardCase("linear-forward-y-rows",
                        [](Lin& l) { l.y = ContiguousView(l.ys.data(), MHA_F32, 2, 2, 1, 8); }),
  };
}

std::vector<Entry> LayerCreateEntries() {
  const auto rope = [](const char* name, mha_rope_style style, int64_t dims, float theta) {
    return LayerCase(name, [style, dims, theta](LayerDesc& s) {
      s.desc.rope = style;
      s.desc.rope_dims = dims;
      s.desc.rope_theta = theta;
    });
  };
  return {
      {"layer-create-null-out",
       [] {
         ScopedContext ctx("reference");
         LayerDesc s;
         return Got(mha_layer_create(ctx.get(), &s.desc, nullptr));
       }},
      {"layer-create-null-ctx",
       [] {
         LayerDesc s;
         mha_layer* layer = nullptr;
         return Got(mha_layer_create(nullptr, &s.desc, &layer));
       }},
      {"layer-create-null-desc", [] { return CreateLayer(BackendOptions("reference"), nullptr); }},
      LayerCase("layer-create-struct-size-zero", [](LayerDesc& s) { s.desc.struct_size = 0; }),
      LayerCase("layer-create-struct-size-too-large",
                [](LayerDesc& s) { s.desc.struct_size = 4097; }),
      {"layer-create-newer-field",
       [] {
         Newer<mha_layer_desc> d(mha_layer_desc_init_size);
         return CreateLayer(BackendOptions("reference"), d.get());
       }},
      LayerCase("layer-create-d-model-zero", [](LayerDesc& s) { s.desc.d_model = 0; }),
      LayerCase("layer-create-num-heads-zero", [](LayerDesc& s) { s.desc.num_heads = 0; }),
      LayerCase("layer-create-kv-d-model-negative", [](LayerDesc& s) { s.desc.kv_d_model = -1; }),
      LayerCase("layer-create-num-kv-heads-negative",
                [](LayerDesc& s) { s.desc.num_kv_heads = -1; }),
      LayerCase("layer-create-head-dim-negative", [](LayerDesc& s) { s.desc.head_dim = -1; }),
      LayerCase("layer-create-head-dim-not-derivable", [](LayerDesc& s) { s.desc.num_heads = 3; }),
      LayerCase("layer-create-kv-heads-not-divisor",
                [](LayerDesc& s) {
                  s.desc.num_heads = 4;
                  s.desc.num_kv_heads = 3;
                }),
      LayerCase("layer-create-size-overflow",
                [](LayerDesc& s) {
                  s.desc.d_model = Pow2(30);
                  s.desc.head_dim = Pow2(40);
                }),
      LayerCase("layer-create-kv-size-overflow",
                [](LayerDesc& s) { s.desc.kv_d_model = Pow2(60); }),
      LayerCase("layer-create-weight-dtype-unknown",
                [](LayerDesc& s) { s.desc.weight_dtype = mha_dtype(7); }),
      LayerCase("layer-create-activation-dtype-unknown",
                [](LayerDesc& s) { s.desc.activation_dtype = mha_dtype(9); }),
      LayerCase("layer-create-scale-negative", [](LayerDesc& s) { s.desc.scale = -1; }),
      LayerCase("layer-create-softcap-infinite",
                [](LayerDesc& s) { s.desc.softcap = std::numeric_limits<float>::infinity(); }),
      LayerCase("layer-create-causal-not-flag", [](LayerDesc& s) { s.desc.causal = 5; }),
      LayerCase("layer-create-window-below-minus-one",
                [](LayerDesc& s) { s.desc.window_left = -3; }),
      LayerCase("layer-create-alibi-not-finite",
                [](LayerDesc& s) { s.desc.alibi_slopes = s.alibi.data(); }),
      LayerCase("layer-create-rope-style-unknown",
                [](LayerDesc& s) { s.desc.rope = mha_rope_style(3); }),
      rope("layer-create-rope-dims-odd", MHA_ROPE_NEOX, 5, 0),
      rope("layer-create-rope-dims-above-head-dim", MHA_ROPE_NEOX, 10, 0),
      rope("layer-create-rope-dims-negative", MHA_ROPE_GPTJ, -2, 0),
      LayerCase("layer-create-rope-head-dim-one",
                [](LayerDesc& s) {
                  s.desc.num_heads = 16;
                  s.desc.rope = MHA_ROPE_NEOX;
                }),
      rope("layer-create-rope-theta-below-one", MHA_ROPE_NEOX, 0, 0.5f),
      rope("layer-create-rope-theta-negative", MHA_ROPE_NEOX, 0, -10),
      rope("layer-create-rope-theta-nan", MHA_ROPE_NEOX, 0, std::nanf("")),
      LayerCase("layer-create-both-weight-forms", [](LayerDesc& s) { s.desc.wq = s.w.data(); }),
      LayerCase("layer-create-both-bias-forms",
                [](LayerDesc& s) {
                  s.desc.in_proj_bias = s.bias.data();
                  s.desc.bq = s.bias.data();
                }),
      LayerCase("layer-create-in-proj-cross", [](LayerDesc& s) { s.desc.kv_d_model = 8; }),
      LayerCase("layer-create-null-wq", [](LayerDesc& s) { s.desc.in_proj_weight = nullptr; }),
      LayerCase("layer-create-null-wk",
                [](LayerDesc& s) {
                  s.desc.in_proj_weight = nullptr;
                  s.desc.wq = s.desc.wv = s.w.data();
                }),
      LayerCase("layer-create-null-wv",
                [](LayerDesc& s) {
                  s.desc.in_proj_weight = nullptr;
                  s.desc.wq = s.desc.wk = s.w.data();
                }),
      LayerCase("layer-create-null-wo", [](LayerDesc& s) { s.desc.wo = nullptr; }),
      LayerCase("layer-create-too-large",
                [](LayerDesc& s) {
                  s.desc.d_model = 1;
                  s.desc.num_heads = 1;
                  s.desc.head_dim = Pow2(60);
                  s.desc.rope = MHA_ROPE_NEOX;
                }),
      LayerCase("layer-create-no-gemm", [](LayerDesc&) {}, "testmod"),
  };
}

std::vector<Entry> LayerForwardEntries() {
  static const int32_t above[2] = {3, 4}, negative[2] = {-1, 3};
  static const int32_t short_rows[2] = {3, 2}, full_rows[2] = {3, 3};
  // options.probs or options.attn_mask: a tensor of the given dims, changed by `change`.
  const auto with = [](const char* name, bool probs, std::vector<int64_t> d,
                       std::function<void(mha_tensor&)> change) {
    return Entry{name, [probs, d, change] {
                   Fwd f;
                   Dense t(d[0], d[1], d[2], d[3]);
                   change(t.view);
                   if (probs) {
                     f.options.probs = t.get();
                   } else {
                     f.options.attn_mask = t.get();
                   }
                   return f.Run();
                 }};
  };
  const auto as_is = [](mha_tensor&) {};
  const auto no_data = [](mha_tensor& t) { t.data = nullptr; };
  return {
      {"layer-forward-null-layer",
       [] {
         Fwd f;
         return Got(mha_layer_forward(nullptr, &f.x, nullptr, &f.out, nullptr, nullptr));
       }},
      {"layer-forward-null-x",
       [] {
         Fwd f;
         return Got(mha_layer_forward(f.layer, nullptr, nullptr, &f.out, nullptr, nullptr));
       }},
      {"layer-forward-null-out",
       [] {
         Fwd f;
         return Got(mha_layer_forward(f.layer, &f.x, nullptr, nullptr, nullptr, nullptr));
       }},
      ForwardCase("layer-forward-x-dtype-unknown", [](Fwd& f) { f.x.dtype = mha_dtype(7); }),
      ForwardCase("layer-forward-x-feature-stride", [](Fwd& f) { f.x.strides[3] = 2; }),
      ForwardCase("layer-forward-x-null-data", [](Fwd& f) { f.x.data = nullptr; }),
      ForwardCase("layer-forward-x-width",
                  [](Fwd& f) { f.x = ContiguousView(f.xs.data(), MHA_F32, 2, 3, 1, 12); }),
      ForwardCase("layer-forward-x-heads-axis",
                  [](Fwd& f) { f.x = ContiguousView(f.xs.data(), MHA_F32, 2, 3, 2, 8); }),
      ForwardCase("layer-forward-out-width",
                  [](Fwd& f) { f.out = ContiguousView(f.outs.data(), MHA_F32, 2, 3, 1, 8); }),
      ForwardCase("layer-forward-out-rows",
                  [](Fwd& f) { f.out = ContiguousView(f.outs.data(), MHA_F32, 2, 2, 1, 16); }),
      ForwardCase("layer-forward-self-on-cross-layer", [](Fwd&) {}, true),
      ForwardCase("layer-forward-x-kv-with-cache",
                  [](Fwd& f) {
                    f.UseCache(2, 4);
                    f.UseXkv(2, 3, 16);
                  }),
      ForwardCase("layer-forward-x-kv-width", [](Fwd& f) { f.UseXkv(2, 4, 12); }),
      ForwardCase("layer-forward-x-kv-batch", [](Fwd& f) { f.UseXkv(1, 4, 16); }),
      ForwardCase("layer-forward-options-struct-size-zero",
                  [](Fwd& f) { f.options.struct_size = 0; }),
      ForwardCase("layer-forward-options-struct-size-too-large",
                  [](Fwd& f) { f.options.struct_size = 4097; }),
      {"layer-forward-options-newer-field",
       [] {
         Fwd f;
         Newer<mha_layer_options> o(mha_layer_options_init_size);
         return f.Run(o.get());
       }},
      ForwardCase("layer-forward-q-lens-above", [](Fwd& f) { f.options.q_lens = above; }),
      ForwardCase("layer-forward-kv-lens-negative", [](Fwd& f) { f.options.kv_lens = negative; }),
      ForwardCase("layer-forward-lens-differ",
                  [](Fwd& f) {
                    f.options.q_lens = short_rows;
                    f.options.kv_lens = full_rows;
                  }),
      ForwardCase("layer-forward-kv-lens-with-cache",
                  [](Fwd& f) {
                    f.UseCache(2, 4);
                    f.options.kv_lens = full_rows;
                  }),
      ForwardCase("layer-forward-cache-shape", [](Fwd& f) { f.UseCache(1, 4); }),
      ForwardCase("layer-forward-cache-overflow", [](Fwd& f) { f.UseCache(2, 2); }),
      with("layer-forward-probs-mean-shape", true, {2, 1, 3, 4}, as_is),
      with("layer-forward-probs-mean-dtype", true, {2, 1, 3, 3},
           [](mha_tensor& t) { t.dtype = MHA_BF16; }),
      with("layer-forward-probs-mean-null-data", true, {2, 1, 3, 3}, no_data),
      with("layer-forward-probs-shape", true, {2, 2, 2, 3}, as_is),
      with("layer-forward-probs-dtype", true, {2, 2, 3, 3},
           [](mha_tensor& t) { t.dtype = MHA_F16; }),
      with("layer-forward-mask-kv-len", false, {1, 1, 3, 4}, as_is),
      with("layer-forward-mask-dtype", false, {1, 1, 3, 3},
           [](mha_tensor& t) { t.dtype = MHA_BF16; }),
      with("layer-forward-mask-null-data", false, {1, 1, 3, 3}, no_data),
      ForwardCase("layer-forward-too-many-tokens",
                  [](Fwd& f) {
                    Broadcast(&f.x, 2, Pow2(31));
                    Broadcast(&f.out, 2, Pow2(31));
                  }),
      ForwardCase(
          "layer-forward-x-kv-too-many-tokens",
          [](Fwd& f) {
            f.UseXkv(2, 4, 8);
            Broadcast(&f.kv_view, 2, Pow2(31));
          },
          true),
      ForwardCase("layer-forward-workspace-overflow",
                  [](Fwd& f) {
                    Broadcast(&f.x, Pow2(40), Pow2(20));
                    Broadcast(&f.out, Pow2(40), Pow2(20));
                  }),
      ForwardCase("layer-forward-too-large",
                  [](Fwd& f) {
                    Broadcast(&f.x, Pow2(50), 1);
                    Broadcast(&f.out, Pow2(50), 1);
                  }),
  };
}

std::vector<Entry> KvCacheEntries() {
  return {
      {"kv-cache-create-null-out",
       [] {
         ScopedContext ctx("reference");
         return Got(mha_kv_cache_create(ctx.get(), 2, 2, 4, 8, MHA_F32, nullptr));
       }},
      {"kv-cache-create-null-ctx",
       [] {
         mha_kv_cache* cache = nullptr;
         return Got(mha_kv_cache_create(nullptr, 2, 2, 4, 8, MHA_F32, &cache));
       }},
      {"kv-cache-create-dtype-unknown", [] { return CreateCache(2, 2, 4, 8, 7); }},
      {"kv-cache-create-batch-zero", [] { return CreateCache(0, 2, 4, 8, MHA_F32); }},
      {"kv-cache-create-heads-zero", [] { return CreateCache(2, 0, 4, 8, MHA_F32); }},
      {"kv-cache-create-capacity-zero", [] { return CreateCache(2, 2, 0, 8, MHA_F32); }},
      {"kv-cache-create-head-dim-negative", [] { return CreateCache(2, 2, 4, -8, MHA_F32); }},
      {"kv-cache-create-size-overflow",
       [] { return CreateCache(2, 2, Pow2(40), Pow2(30), MHA_F32); }},
      {"kv-cache-create-too-large", [] { return CreateCache(1, 1, Pow2(40), 1024, MHA_F32); }},
      {"kv-cache-truncate-null-cache", [] { return Got(mha_kv_cache_truncate(nullptr, 0, 0)); }},
      {"kv-cache-truncate-row-above", [] { return Truncate(2, 0); }},
      {"kv-cache-truncate-row-negative", [] { return Truncate(-1, 0); }},
      {"kv-cache-truncate-grow", [] { return Truncate(0, 1); }},
      {"kv-cache-truncate-negative", [] { return Truncate(0, -1); }},
      {"kv-cache-views-null-cache",
       [] {
         mha_tensor k, v;
         return Got(mha_kv_cache_views(nullptr, &k, &v));
       }},
  };
}

std::vector<Entry> AllEntries() {
  std::vector<Entry> all;
  for (auto group : {ContextEntries, EnvironmentEntries, ThreadAndIsaEntries, AttentionEntries,
                     LinearEntries, LayerCreateEntries, LayerForwardEntries, KvCacheEntries}) {
    for (Entry& e : group()) all.push_back(std::move(e));
  }
  return all;
}

std::set<std::string> StatusNames() {
  std::set<std::string> names;
  for (int s = MHA_OK; s <= MHA_ERR_INTERNAL; ++s) names.insert(mha_status_name(mha_status(s)));
  return names;
}

TEST_CASE("bad_inputs: the catalogue and the test list the same cases", "[errors][docs]") {
  std::vector<std::string> problems;
  const std::map<std::string, Row> rows = ReadCatalogue(&problems);
  for (const std::string& p : problems) FAIL_CHECK(p);
  const std::set<std::string> statuses = StatusNames();
  std::set<std::string> entries;
  for (const Entry& e : AllEntries()) {
    INFO("test entry " << e.first);
    CHECK(entries.insert(e.first).second);  // one entry per name
    CHECK(rows.count(e.first) == 1);        // documented
  }
  for (const auto& row : rows) {
    INFO("catalogue row " << row.first);
    CHECK(entries.count(row.first) == 1);  // has an entry
    CHECK(statuses.count(row.second.status) == 1);
    CHECK(row.second.status != "MHA_OK");
  }
}

TEST_CASE("bad_inputs: every catalogued input is refused as documented", "[errors][docs]") {
  std::vector<std::string> problems;
  const std::map<std::string, Row> rows = ReadCatalogue(&problems);
  REQUIRE(problems.empty());
  int ran = 0;
  for (const Entry& e : AllEntries()) {
    const auto row = rows.find(e.first);
    if (row == rows.end()) continue;  // the other test case reports it
    INFO("case " << e.first);
#ifdef MHA_TEST_SANITIZED
    if (row->second.status == "MHA_ERR_OUT_OF_MEMORY") {
      WARN("skipped " << e.first << ": allocations that large abort under the sanitizer");
      continue;
    }
#endif
    mha_isa isa;
    mha_isa_from_name("(no message yet)", &isa);  // a stale message never matches a row
    const Outcome got = e.second();
    if (!got.skipped.empty()) {
      WARN("skipped " << e.first << ": " << got.skipped);
      continue;
    }
    ++ran;
    CHECK(std::string(mha_status_name(got.status)) == row->second.status);
    CHECK_THAT(got.message, Contains(row->second.fragment));
  }
  CHECK(ran > 0);
}

}  // namespace
}  // namespace mha_test
