// The oneDNN backend through its loaded module: the conformance grid against the
// reference, chunking under a small scores budget, primitive reuse, and the ways
// loading it can fail.
#include <dlfcn.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "conformance.h"
#include "mha/kit/dtype.h"
#include "test_util.h"

namespace mha_test {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

// A context on the oneDNN backend. Under AddressSanitizer it runs on the calling
// thread only: GCC 12's LeakSanitizer crashes at exit reading the dynamic TLS that
// libdnnl (loaded with dlopen) leaves in live OpenMP worker threads.
// A onednn context; budget_mb > 0 bounds its score scratch.
class OnednnContext : public ScopedContext {
 public:
  explicit OnednnContext(int64_t budget_mb = 0) : ScopedContext(Options(budget_mb)) {
#ifdef __SANITIZE_ADDRESS__
    if (status() == MHA_OK) mha_context_set_num_threads(get(), 1);
#endif
  }

 private:
  static mha_context_options Options(int64_t budget_mb) {
    mha_context_options options = BackendOptions("onednn");
    if (budget_mb > 0) options.onednn_scores_budget_mb = budget_mb;
    return options;
  }
};

const std::vector<int64_t> kHeadDims = {1, 7, 16, 40, 64, 80, 128};

TEST_CASE("onednn matches the reference on random problems", "[onednn][conformance]") {
  OnednnContext ctx;
  REQUIRE(ctx.status() == MHA_OK);
  for (const Case& c : RandomCases(/*seed=*/44, /*count=*/120, /*max_len=*/300, kHeadDims)) {
    CheckAgainstReference(ctx.get(), c);
  }
}

TEST_CASE("onednn matches the reference in many chunks under a 1 MiB budget",
          "[onednn][conformance]") {
  OnednnContext ctx(/*budget_mb=*/1);
  REQUIRE(ctx.status() == MHA_OK);
  for (Case c : RandomCases(/*seed=*/45, /*count=*/6, /*max_len=*/300, {16, 40, 64})) {
    // A chunk is one kv head: a row of its scores is 4 query heads x 400 keys x 4
    // bytes (6 with bf16 P), so 1 MiB holds 163 (109) of the 300 queries.
    c.num_kv_heads = 2;
    c.num_heads = 8;
    c.q_len = 300;
    c.kv_len = 400;
    c.layout = c.layout == Layout::kPackedQkv ? Layout::kBshd : c.layout;
    CheckAgainstReference(ctx.get(), c);
  }
}

// Prefill-sized calls (more than 16 queries) run on dense copies in chunks of one kv
// head with as many rows as the budget holds; a budget of 1 MiB splits these into
// many chunks of few rows (a 1000-key row of 4 heads is 16-24 KiB), causal ones too.
TEST_CASE("onednn prefill chunks under a 1 MiB budget match the reference",
          "[onednn][conformance]") {
  OnednnContext ctx(/*budget_mb=*/1);
  REQUIRE(ctx.status() == MHA_OK);
  Case c;
  c.num_heads = 8, c.num_kv_heads = 2, c.q_len = 130, c.kv_len = 1000, c.head_dim = 64;
  c.v_head_dim = 64;
  for (const mha_dtype dtype : {MHA_F32, MHA_BF16}) {
    c.q_dtype = c.kv_dtype = dtype;
    for (const bool causal : {false, true}) {
      c.causal = causal;
      CheckAgainstReference(ctx.get(), c);
    }
  }
  // BHSD, and out in bf16 from the dense f32 tile.
  c.layout = Layout::kBhsd, c.out_dtype = MHA_BF16, c.causal = false;
  CheckAgainstReference(ctx.get(), c);
}

// Without a mask, lse or probs a prefill call skips the row passes, but only while Q
// and K are finite: an Inf in Q that makes every logit of a row -inf must still give
// that row zeros (the softmax alone gives NaN), and a NaN stays in its row.
TEST_CASE("onednn prefill without row passes keeps the non-finite rules", "[onednn]") {
  OnednnContext ctx;
  REQUIRE(ctx.status() == MHA_OK);
  std::mt19937_64 rng(11);
  Dense q(1, 40, 2, 16), k(1, 50, 2, 16), v(1, 50, 2, 16), out(1, 40, 2, 16);
  q.Randomize(rng);
  k.Randomize(rng, 0.5f, 1.0f);  // dim 0 of head 1 below is the only one that matters
  v.Randomize(rng);
  for (int64_t j = 0; j < 50; ++j) k.at(0, j, 1, 0) = -1.0f;
  q.at(0, 5, 1, 0) = std::numeric_limits<float>::infinity();  // row 5, head 1: all -inf
  q.at(0, 9, 0, 3) = std::numeric_limits<float>::quiet_NaN();  // row 9, head 0: NaN
  REQUIRE(mha_attention(ctx.get(), q.get(), k.get(), v.get(), out.get(), nullptr) == MHA_OK);
  Dense expected(1, 40, 2, 16);
  ScopedContext reference("reference");
  REQUIRE(mha_attention(reference.get(), q.get(), k.get(), v.get(), expected.get(), nullptr) ==
          MHA_OK);
  for (int64_t i = 0; i < 40; ++i) {
    for (int64_t h = 0; h < 2; ++h) {
      for (int64_t d = 0; d < 16; ++d) {
        const float got = out.at(0, i, h, d), want = expected.at(0, i, h, d);
        if (i == 5 && h == 1) CHECK(got == 0.0f);
        if (std::isnan(want)) {
          CHECK(std::isnan(got));
        } else {
          CHECK(std::fabs(got - want) <= 2e-5 + 1e-5 * std::fabs(want));
        }
      }
    }
  }
  CHECK(std::isnan(expected.at(0, 9, 0, 0)));
}

// Keys past kv_lens are never visible: a NaN in their V (an uninitialized KV cache past
// its length) must not reach the output, in f32 and bf16, whatever widths the chunks
// round their keys to.
TEST_CASE("onednn never lets V past kv_lens reach the output", "[onednn]") {
  OnednnContext ctx;
  REQUIRE(ctx.status() == MHA_OK);
  ScopedContext reference("reference");
  std::mt19937_64 rng(12);
  const int64_t B = 3, Lk = 200, Hq = 4, Hkv = 2, D = 16;
  Dense q(B, 1, Hq, D), k(B, Lk, Hkv, D), v(B, Lk, Hkv, D), out(B, 1, Hq, D);
  q.Randomize(rng);
  k.Randomize(rng);
  v.Randomize(rng);
  const int32_t lens[B] = {150, 37, 200};
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = lens[b]; j < Lk; ++j) {
      for (int64_t g = 0; g < Hkv; ++g) {
        for (int64_t d = 0; d < D; ++d) v.at(b, j, g, d) = std::nanf("");
      }
    }
  }
  std::vector<uint16_t> k16(k.values.size()), v16(v.values.size());
  for (size_t i = 0; i < k16.size(); ++i) k16[i] = mha::F32ToBF16(k.values[i]);
  for (size_t i = 0; i < v16.size(); ++i) v16[i] = mha::F32ToBF16(v.values[i]);
  mha_tensor kb = k.view, vb = v.view;
  kb.data = k16.data(), kb.dtype = MHA_BF16;
  vb.data = v16.data(), vb.dtype = MHA_BF16;
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  desc.kv_lens = lens;
  Dense want(B, 1, Hq, D);
  for (const mha_tensor* kv : {&k.view, &kb}) {
    const mha_tensor* vv = kv == &kb ? &vb : &v.view;
    INFO("K/V " << mha_dtype_name(kv->dtype));
    REQUIRE(mha_attention(ctx.get(), q.get(), kv, vv, out.get(), &desc) == MHA_OK);
    REQUIRE(mha_attention(reference.get(), q.get(), kv, vv, want.get(), &desc) == MHA_OK);
    for (size_t i = 0; i < out.values.size(); ++i) {
      CHECK(std::fabs(out.values[i] - want.values[i]) <= 4e-3 * (1 + std::fabs(want.values[i])));
    }
  }
}

// Under a causal mask and a sliding window the rows of one chunk see different keys:
// a NaN or Inf in V must reach exactly the rows that see its key, as in the reference
// (a row's zero weight for a key it does not see must never multiply that V).
TEST_CASE("onednn lets a non-finite V reach only the rows that see its key", "[onednn]") {
  OnednnContext ctx;
  REQUIRE(ctx.status() == MHA_OK);
  ScopedContext reference("reference");
  std::mt19937_64 rng(13);
  const int64_t L = 150, H = 2, D = 16;
  Dense q(1, L, H, D), k(1, L, H, D), v(1, L, H, D), out(1, L, H, D), want(1, L, H, D);
  q.Randomize(rng);
  k.Randomize(rng);
  v.Randomize(rng);
  v.at(0, 70, 0, 3) = std::nanf("");
  v.at(0, 100, 1, 5) = std::numeric_limits<float>::infinity();
  for (const int64_t window : {int64_t{-1}, int64_t{20}}) {
    INFO("window_left " << window);
    mha_attention_desc desc;
    mha_attention_desc_init(&desc);
    desc.causal = 1;
    desc.window_left = window;
    REQUIRE(mha_attention(ctx.get(), q.get(), k.get(), v.get(), out.get(), &desc) == MHA_OK);
    REQUIRE(mha_attention(reference.get(), q.get(), k.get(), v.get(), want.get(), &desc) ==
            MHA_OK);
    int64_t finite_rows = 0;
    for (int64_t i = 0; i < L; ++i) {
      for (int64_t h = 0; h < H; ++h) {
        for (int64_t d = 0; d < D; ++d) {
          const float g = out.at(0, i, h, d), w = want.at(0, i, h, d);
          INFO("row " << i << " head " << h << " dim " << d);
          if (std::isfinite(w)) {
            CHECK(std::fabs(g - w) <= 2e-5 + 1e-5 * std::fabs(w));
          } else {
            CHECK(std::isnan(g) == std::isnan(w));
          }
        }
        finite_rows += std::isfinite(want.at(0, i, h, 0));
      }
    }
    CHECK(finite_rows > L);  // rows before key 70 (or past the window) stay finite
  }
}

TEST_CASE("onednn handles fully masked rows, decode and GQA", "[onednn][conformance]") {
  OnednnContext ctx;
  REQUIRE(ctx.status() == MHA_OK);
  Case c;
  c.probs = c.lse = true;
  SECTION("a window that leaves early rows without keys") {
    c.q_len = 20, c.kv_len = 12, c.causal = true, c.window_left = 3;
    CheckAgainstReference(ctx.get(), c);
  }
  SECTION("kv_lens with zero-length rows") {
    c.batch = 3, c.q_len = 5, c.kv_len = 9, c.kv_lens = true, c.seed = 7;
    CheckAgainstReference(ctx.get(), c);
  }
  SECTION("a key-padding bias that forbids every key") {
    c.q_len = 4, c.kv_len = 6, c.bias = BiasKind::kKeyPadding, c.logit_scale = 1e3f;
    CheckAgainstReference(ctx.get(), c);
  }
  SECTION("decode over a bf16 cache with GQA") {
    c.num_heads = 8, c.num_kv_heads = 2, c.q_len = 1, c.kv_len = 333, c.head_dim = 64;
    c.v_head_dim = 64, c.kv_dtype = MHA_BF16, c.out_dtype = MHA_BF16;
    CheckAgainstReference(ctx.get(), c);
  }
  // 8 kv heads of 128 widen 256 keys at a time (1 MiB of f32): several blocks, the
  // last one partial, and P V added up block by block.
  SECTION("decode over a long bf16 cache, widened block by block") {
    c.num_heads = 16, c.num_kv_heads = 8, c.q_len = 1, c.kv_len = 1000, c.head_dim = 128;
    c.v_head_dim = 128, c.kv_dtype = MHA_BF16;
    CheckAgainstReference(ctx.get(), c);
    c.q_len = 3, c.causal = true, c.out_dtype = MHA_BF16;
    CheckAgainstReference(ctx.get(), c);
  }
  SECTION("batched decode over an f16 cache with kv_lens, widened block by block") {
    c.batch = 3, c.num_heads = 8, c.num_kv_heads = 8, c.q_len = 2, c.kv_len = 700;
    c.head_dim = 128, c.v_head_dim = 128, c.kv_dtype = MHA_F16, c.kv_lens = true;
    CheckAgainstReference(ctx.get(), c);
  }
}

#ifndef MHA_ONEDNN_BUILTIN

using CounterFn = int64_t (*)();

CounterFn PrimitiveCounter() {
  void* module = dlopen(MHA_ONEDNN_MODULE, RTLD_NOW | RTLD_NOLOAD);
  if (!module) return nullptr;
  return reinterpret_cast<CounterFn>(dlsym(module, "mha_onednn_primitives_created"));
}

TEST_CASE("repeated identical calls create no primitives", "[onednn][plugin]") {
  OnednnContext ctx;
  REQUIRE(ctx.status() == MHA_OK);
  const CounterFn created = PrimitiveCounter();
  REQUIRE(created != nullptr);
  std::mt19937_64 rng(3);
  Dense q(2, 40, 4, 32), k(2, 50, 2, 32), v(2, 50, 2, 32), out(2, 40, 4, 32);
  q.Randomize(rng), k.Randomize(rng), v.Randomize(rng);
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  desc.causal = 1;
  REQUIRE(mha_attention(ctx.get(), q.get(), k.get(), v.get(), out.get(), &desc) == MHA_OK);
  const int64_t after_first = created();
  CHECK(after_first > 0);
  const std::vector<float> first = out.values;
  for (int call = 0; call < 3; ++call) {
    REQUIRE(mha_attention(ctx.get(), q.get(), k.get(), v.get(), out.get(), &desc) == MHA_OK);
  }
  CHECK(created() == after_first);
  CHECK(out.values == first);
  // mha_context_isa names oneDNN's instruction set.
  const std::string isa = mha_context_isa(ctx.get());
#if defined(__aarch64__)
  CHECK(isa == "aarch64");
#else
  CHECK((isa.find("avx") != std::string::npos || isa.find("sse") != std::string::npos));
#endif
}

TEST_CASE("a decode loop whose key length grows creates few primitives", "[onednn][plugin]") {
  OnednnContext ctx;
  ScopedContext reference("reference");
  REQUIRE(ctx.status() == MHA_OK);
  REQUIRE(reference.status() == MHA_OK);
  const CounterFn created = PrimitiveCounter();
  REQUIRE(created != nullptr);
  // A KV cache of 400 entries, of which the first kv_len are filled; one new query
  // (then two, as speculative decoding would) per step, GQA with 4 heads per kv head.
  constexpr int64_t kCapacity = 400, kFirst = 100, kSteps = 256;
  std::mt19937_64 rng(11);
  Dense k(1, kCapacity, 2, 32), v(1, kCapacity, 2, 32);
  k.Randomize(rng), v.Randomize(rng);
  for (const int64_t q_len : {1, 2}) {
    INFO("q_len " << q_len);
    Dense q(1, q_len, 8, 32), out(1, q_len, 8, 32), want(1, q_len, 8, 32);
    q.Randomize(rng);
    mha_attention_desc desc;
    mha_attention_desc_init(&desc);
    desc.causal = 1;
    const int64_t before = created();
    for (int pass = 0; pass < 2; ++pass) {
      for (int64_t kv_len = kFirst; kv_len < kFirst + kSteps; ++kv_len) {
        mha_tensor kt = *k.get(), vt = *v.get();
        kt.dims[1] = vt.dims[1] = kv_len;
        REQUIRE(mha_attention(ctx.get(), q.get(), &kt, &vt, out.get(), &desc) == MHA_OK);
        if (kv_len % 51 != 0) continue;
        REQUIRE(mha_attention(reference.get(), q.get(), &kt, &vt, want.get(), &desc) == MHA_OK);
        for (size_t e = 0; e < out.values.size(); ++e) {
          CHECK(out.values[e] == Approx(want.values[e]).margin(1e-5));
        }
      }
      // One pair of matmuls for every key length, and a softmax per 64 keys of width
      // (100..355 keys: widths 128, 192, 256, 320, 384), not one per step.
      const int64_t in_loop = created() - before;
      CHECK(in_loop <= 2 + 5);
    }
  }
}

TEST_CASE("concurrent calls on one context agree", "[onednn][plugin]") {
  OnednnContext ctx;
  REQUIRE(ctx.status() == MHA_OK);
  std::mt19937_64 rng(5);
  Dense q(1, 64, 4, 16), k(1, 64, 4, 16), v(1, 64, 4, 16);
  q.Randomize(rng), k.Randomize(rng), v.Randomize(rng);
  Dense want(1, 64, 4, 16);
  REQUIRE(mha_attention(ctx.get(), q.get(), k.get(), v.get(), want.get(), nullptr) == MHA_OK);
  std::vector<std::vector<float>> got(4);
  std::vector<std::thread> threads;
  for (auto& result : got) {
    threads.emplace_back([&] {
      Dense out(1, 64, 4, 16);
      for (int call = 0; call < 5; ++call) {
        if (mha_attention(ctx.get(), q.get(), k.get(), v.get(), out.get(), nullptr)) return;
      }
      result = out.values;
    });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& result : got) CHECK(result == want.values);
}

TEST_CASE("MHA_BACKEND=onednn picks the module", "[onednn][plugin]") {
  ScopedEnv backend("MHA_BACKEND", "onednn");
  ScopedContext ctx(nullptr);
  REQUIRE(ctx.status() == MHA_OK);
  CHECK(std::string(mha_context_backend(ctx.get())) == "onednn");
}

// A directory of its own for one test, removed with its files.
class TempDir {
 public:
  TempDir() : path_("/tmp/mha_onednn_XXXXXX") { REQUIRE(mkdtemp(&path_[0])); }
  ~TempDir() {
    for (const std::string& f : files_) std::remove(f.c_str());
    rmdir(path_.c_str());
  }
  void Add(const std::string& name, const std::string& bytes) {
    const std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary) << bytes;
    files_.push_back(file);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

// Runs the hidden test case `name` in a fresh process of this program, since the
// registry keeps a module loaded for the life of a process. Returns its exit status
// and puts its output in *output.
int RunInFreshProcess(const std::string& name, std::string* output) {
  char self[4096];
  const ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  REQUIRE(length > 0);
  self[length] = '\0';
  std::string command = std::string("'") + self + "' '" + name + "' 2>&1";
#ifdef MHA_TEST_EMULATOR  // a cross build: the child runs under the emulator too
  command = std::string("'") + MHA_TEST_EMULATOR + "' " + command;
#endif
  std::FILE* child = popen(command.c_str(), "r");
  REQUIRE(child);
  char chunk[512];
  while (size_t n = std::fread(chunk, 1, sizeof chunk, child)) output->append(chunk, n);
  return pclose(child);
}

// A shared libmha always finds the module beside itself in the build tree, so the
// module can be hidden only from a static build (the sanitizer suite is one).
#ifndef MHA_SHARED_LIBMHA
TEST_CASE("without the module, onednn is unavailable", "[onednn][plugin]") {
  TempDir empty;
  ScopedEnv path("MHA_PLUGIN_PATH", empty.path());
  std::string output;
  const int status = RunInFreshProcess("onednn child: module missing", &output);
  INFO(output);
  CHECK(status == 0);
}

TEST_CASE("onednn child: module missing", "[.onednn_child]") {
  ScopedContext ctx("onednn");
  CHECK(ctx.status() == MHA_ERR_BACKEND_UNAVAILABLE);
  CHECK_THAT(mha_last_error(), Contains("libmha_backend_onednn.so"));
}
#endif  // MHA_SHARED_LIBMHA

TEST_CASE("without libdnnl, the loader names the missing library", "[onednn][plugin]") {
  // A copy of the module whose NEEDED entry names a libdnnl that does not exist: what
  // an engine shipped without oneDNN sees.
  std::ifstream in(MHA_ONEDNN_MODULE, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string needed = "libdnnl.so.", absent = "libdnnX.so.";
  size_t at = bytes.find(needed);
  REQUIRE(at != std::string::npos);
  for (; at != std::string::npos; at = bytes.find(needed, at)) {
    bytes.replace(at, needed.size(), absent);
  }
  TempDir dir;
  dir.Add("libmha_backend_onednn.so", bytes);
  ScopedEnv path("MHA_PLUGIN_PATH", dir.path());
  std::string output;
  const int status = RunInFreshProcess("onednn child: libdnnl missing", &output);
  INFO(output);
  CHECK(status == 0);
}

TEST_CASE("onednn child: libdnnl missing", "[.onednn_child]") {
  ScopedContext ctx("onednn");
  CHECK(ctx.status() == MHA_ERR_BACKEND_UNAVAILABLE);
  CHECK_THAT(mha_last_error(), Contains("backend \"onednn\"") && Contains("libdnnX.so"));
}

TEST_CASE("max_isa caps oneDNN for the whole process", "[onednn][plugin]") {
  std::string output;
  const int status = RunInFreshProcess("onednn child: isa cap", &output);
  INFO(output);
  CHECK(status == 0);
}

#if defined(__aarch64__)
TEST_CASE("onednn child: isa cap", "[.onednn_child]") {
  // oneDNN's API has no aarch64 ISA levels: a cap is refused, native runs.
  ScopedContext capped(CappedOptions("onednn", MHA_ISA_NEON));
  CHECK(capped.status() == MHA_ERR_BACKEND_UNAVAILABLE);
  CHECK_THAT(mha_last_error(), Contains("max ISA neon") && Contains("x86 levels only"));
  ScopedContext ctx(CappedOptions("onednn", MHA_ISA_NATIVE));
  REQUIRE(ctx.status() == MHA_OK);
  Case c;
  c.num_heads = 4, c.num_kv_heads = 2, c.q_len = 9, c.kv_len = 30, c.causal = true;
  CheckAgainstReference(ctx.get(), c);
  CHECK(std::string(mha_context_isa(ctx.get())) == "aarch64");
}
#else
TEST_CASE("onednn child: isa cap", "[.onednn_child]") {
  ScopedContext ctx(CappedOptions("onednn", MHA_ISA_SSE4));
  REQUIRE(ctx.status() == MHA_OK);
  Case c;
  c.num_heads = 4, c.num_kv_heads = 2, c.q_len = 9, c.kv_len = 30, c.causal = true;
  CheckAgainstReference(ctx.get(), c);
  CHECK_THAT(mha_context_isa(ctx.get()), Contains("sse41"));
  // The cap cannot change once oneDNN has run.
  ScopedContext second(CappedOptions("onednn", MHA_ISA_AVX2));
  CHECK(second.status() == MHA_ERR_BACKEND_UNAVAILABLE);
  CHECK_THAT(mha_last_error(), Contains("max ISA avx2") && Contains("process-wide"));
}
#endif

#endif  // MHA_ONEDNN_BUILTIN

}  // namespace
}  // namespace mha_test
