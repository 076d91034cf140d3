// The C API's argument checks and environment variables: every bad input is a status
// and a message naming the argument and its values.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "mha/mha.hpp"
#include "test_util.h"

namespace mha_test {
namespace {

using Catch::Matchers::Contains;

// A valid small problem whose pieces each test breaks in one way.
struct Call {
  Dense q{2, 3, 4, 8}, k{2, 5, 2, 8}, v{2, 5, 2, 8}, out{2, 3, 4, 8};
  mha_attention_desc desc;
  ScopedContext ctx{"reference"};
  Call() { mha_attention_desc_init(&desc); }
  mha_status Run() {
    return mha_attention(ctx.get(), q.get(), k.get(), v.get(), out.get(), &desc);
  }
};

void ExpectInvalid(Call& call, const std::string& message) {
  CHECK(call.Run() == MHA_ERR_INVALID_ARGUMENT);
  CHECK_THAT(mha_last_error(), Contains(message));
}

TEST_CASE("the valid call succeeds", "[api]") {
  Call call;
  CHECK(call.Run() == MHA_OK);
  CHECK(mha_attention(call.ctx.get(), call.q.get(), call.k.get(), call.v.get(),
                      call.out.get(), nullptr) == MHA_OK);
}

TEST_CASE("null pointers are named", "[api][errors]") {
  Call call;
  CHECK(mha_attention(nullptr, call.q.get(), call.k.get(), call.v.get(), call.out.get(),
                      nullptr) == MHA_ERR_INVALID_ARGUMENT);
  CHECK_THAT(mha_last_error(), Contains("ctx is NULL"));
  CHECK(mha_attention(call.ctx.get(), nullptr, call.k.get(), call.v.get(), call.out.get(),
                      nullptr) == MHA_ERR_INVALID_ARGUMENT);
  CHECK_THAT(mha_last_error(), Contains("q is NULL"));
  call.v.view.data = nullptr;
  ExpectInvalid(call, "v.data is NULL");
  CHECK(mha_context_create(nullptr, nullptr) == MHA_ERR_INVALID_ARGUMENT);
  CHECK(mha_context_set_num_threads(nullptr, 1) == MHA_ERR_INVALID_ARGUMENT);
}

TEST_CASE("bad dims and strides are named with their values", "[api][errors]") {
  SECTION("head_dim mismatch") {
    Call call;
    call.k.view.dims[3] = 6;
    ExpectInvalid(call, "k.dims[3]=6 but q.dims[3] (head_dim) is 8");
  }
  SECTION("zero heads") {
    Call call;
    call.q.view.dims[2] = 0;
    ExpectInvalid(call, "q.dims[2]=0 must be >= 1");
  }
  SECTION("negative length") {
    Call call;
    call.k.view.dims[1] = -1;
    ExpectInvalid(call, "k.dims[1]=-1 must be >= 0");
  }
  SECTION("head_dim stride") {
    Call call;
    call.q.view.strides[3] = 2;
    ExpectInvalid(call, "q.strides[3]=2: the head_dim stride must be 1");
  }
  SECTION("negative stride") {
    Call call;
    call.out.view.strides[1] = -32;
    ExpectInvalid(call, "out.strides[1]=-32 must be >= 0");
  }
  SECTION("heads not a multiple") {
    Call call;
    call.k.view.dims[2] = call.v.view.dims[2] = 3;
    ExpectInvalid(call, "q.dims[2]=4 (num_heads) is not a multiple of k.dims[2]=3");
  }
  SECTION("batch mismatch") {
    Call call;
    call.v.view.dims[0] = 1;
    ExpectInvalid(call, "v.dims[0]=1 but q.dims[0] (batch) is 2");
  }
  SECTION("kv_len mismatch") {
    Call call;
    call.v.view.dims[1] = 4;
    ExpectInvalid(call, "v.dims[1]=4 but k.dims[1] (kv_len) is 5");
  }
  SECTION("out shape") {
    Call call;
    call.out.view.dims[1] = 2;
    ExpectInvalid(call, "out.dims[1]=2 but q.dims[1] (q_len) is 3");
  }
  SECTION("unknown dtype") {
    Call call;
    call.q.view.dtype = static_cast<mha_dtype>(7);
    ExpectInvalid(call, "q.dtype=7 is not a dtype");
  }
  SECTION("K and V dtypes differ") {
    Call call;
    call.v.view.dtype = MHA_BF16;
    ExpectInvalid(call, "k.dtype=f32 but v.dtype=bf16");
  }
  SECTION("64-bit overflow") {
    Call call;
    call.k.view.strides[0] = int64_t{1} << 62;
    ExpectInvalid(call, "overflow");
  }
}

TEST_CASE("bad options are named with their values", "[api][errors]") {
  Call call;
  SECTION("window") {
    call.desc.window_left = -2;
    ExpectInvalid(call, "desc->window_left=-2");
  }
  SECTION("kv_lens out of range") {
    const int32_t lens[2] = {5, 6};
    call.desc.kv_lens = lens;
    ExpectInvalid(call, "desc->kv_lens[1]=6 must be in [0, 5]");
  }
  SECTION("q_lens out of range") {
    const int32_t lens[2] = {-1, 3};
    call.desc.q_lens = lens;
    ExpectInvalid(call, "desc->q_lens[0]=-1 must be in [0, 3] (q.dims[1])");
  }
  SECTION("negative scale") {
    call.desc.scale = -1.0f;
    ExpectInvalid(call, "desc->scale=-1");
  }
  SECTION("softcap NaN") {
    call.desc.softcap = std::nanf("");
    ExpectInvalid(call, "desc->softcap=nan");
  }
  SECTION("causal not a flag") {
    call.desc.causal = 2;
    ExpectInvalid(call, "desc->causal=2");
  }
  SECTION("alibi slope not finite") {
    const float slopes[4] = {1, 1, std::numeric_limits<float>::infinity(), 1};
    call.desc.alibi_slopes = slopes;
    ExpectInvalid(call, "desc->alibi_slopes[2]=inf");
  }
  SECTION("bias of the wrong shape or dtype") {
    Dense bias(2, 4, 3, 4);
    call.desc.bias = bias.get();
    ExpectInvalid(call, "desc->bias.dims[3]=4 but kv_len is 5");
    Dense half_bias(1, 1, 3, 5);
    half_bias.view.dtype = MHA_BF16;
    call.desc.bias = half_bias.get();
    ExpectInvalid(call, "desc->bias.dtype=bf16");
  }
  SECTION("probs of the wrong shape") {
    Dense probs(2, 1, 3, 5);  // probs never broadcast
    call.desc.probs = probs.get();
    ExpectInvalid(call, "desc->probs.dims[1]=1 but num_heads is 4");
  }
  SECTION("thread count") {
    CHECK(mha_context_set_num_threads(call.ctx.get(), -1) == MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("n=-1"));
  }
}

TEST_CASE("MHA_BACKEND picks the backend and rejects unknown names", "[api][env]") {
  {
    ScopedEnv env("MHA_BACKEND", "reference");
    ScopedContext ctx(nullptr);
    REQUIRE(ctx.status() == MHA_OK);
    CHECK(std::string(mha_context_backend(ctx.get())) == "reference");
    CHECK(std::string(mha_context_isa(ctx.get())) == "scalar");
  }
  {
    ScopedEnv env("MHA_BACKEND", "nonsense");
    mha_context* ctx = reinterpret_cast<mha_context*>(1);
    CHECK(mha_context_create(nullptr, &ctx) == MHA_ERR_BACKEND_UNAVAILABLE);
    CHECK(ctx == nullptr);
    CHECK_THAT(mha_last_error(), Contains("\"nonsense\"") && Contains("available: ") &&
                                     Contains("reference") && Contains("highway"));
  }
  {
    ScopedEnv env("MHA_BACKEND", "nonsense,reference");  // every name must exist
    ScopedContext ctx(nullptr);
    CHECK(ctx.status() == MHA_ERR_BACKEND_UNAVAILABLE);
  }
  {
    ScopedContext ctx("../evil");
    CHECK(ctx.status() == MHA_ERR_BACKEND_UNAVAILABLE);
    CHECK_THAT(mha_last_error(), Contains("is not a backend name"));
  }
  {
    ScopedContext ctx("highway,reference");
    REQUIRE(ctx.status() == MHA_OK);
    CHECK(std::string(mha_context_backend(ctx.get())) == "highway");
  }
  CHECK(mha_backend_available("reference") == 1);
  CHECK(mha_backend_available("nonsense") == 0);
  CHECK_THAT(mha_last_error(), Contains("nonsense"));
  REQUIRE(mha_backend_version("highway") != nullptr);
  CHECK(std::string(mha_backend_version("highway")) == "1");
  CHECK(mha_backend_version("nonsense") == nullptr);
  CHECK_THAT(mha_last_error(), Contains("nonsense"));
  CHECK(mha_backend_version(nullptr) == nullptr);
  CHECK_THAT(mha_last_error(), Contains("name is NULL"));
  const std::vector<std::string> names = mha::BackendNames();
  CHECK(names.front() == "highway");
  CHECK(std::find(names.begin(), names.end(), "reference") != names.end());
  CHECK(mha_backend_name(-1) == nullptr);
  CHECK(mha_backend_name(mha_backend_count()) == nullptr);
}

TEST_CASE("malformed environment values are errors that name the variable", "[api][env]") {
  struct Bad { const char* name; const char* value; const char* message; };
  const Bad cases[] = {
      {"MHA_NUM_THREADS", "zero", "MHA_NUM_THREADS=\"zero\""},
      {"MHA_NUM_THREADS", "0", "MHA_NUM_THREADS=\"0\""},
      {"MHA_NUM_THREADS", "4x", "MHA_NUM_THREADS=\"4x\""},
      {"MHA_MAX_ISA", "avx9", "MHA_MAX_ISA=\"avx9\": expected one of scalar"},
      {"MHA_VERBOSE", "3", "MHA_VERBOSE=\"3\": expected 0, 1 or 2"},
  };
  for (const Bad& bad : cases) {
    INFO(bad.name << "=" << bad.value);
    ScopedEnv env(bad.name, bad.value);
    ScopedContext ctx("reference");
    CHECK(ctx.status() == MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains(bad.message));
  }
  ScopedEnv isa("MHA_MAX_ISA", "SCALAR");  // case-insensitive
  ScopedEnv threads("MHA_NUM_THREADS", "3");
  ScopedContext ctx("reference");
  CHECK(ctx.status() == MHA_OK);
}

TEST_CASE("MHA_VERBOSE=1 prints one line per call on stderr", "[api][env]") {
  ScopedEnv env("MHA_VERBOSE", "2");
  Call call;  // the context reads the variable when created
  fflush(stderr);
  char path[] = "/tmp/mha_verbose_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  const int saved = dup(2);
  dup2(fd, 2);
  const mha_status status = call.Run();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  REQUIRE(status == MHA_OK);
  std::FILE* f = std::fopen(path, "r");
  REQUIRE(f);
  char line[1024] = {};
  REQUIRE(std::fgets(line, sizeof line, f));
  std::fclose(f);
  std::remove(path);
  CHECK_THAT(line, Contains("mha: reference:f64 B=2 Hq=4 Hkv=2 Lq=3 Lk=5 D=8") &&
                       Contains("q=f32 kv=f32 out=f32") && Contains(" us"));
}

TEST_CASE("the C++ wrapper throws mha::Error with the status and message", "[api]") {
  mha::Context ctx("reference");
  CHECK(ctx.backend() == "reference");
  std::vector<float> q(2 * 4), k(3 * 4), v(3 * 4), out(2 * 4);
  auto tq = mha::Tensor::Bshd(q.data(), MHA_F32, 1, 2, 1, 4);
  auto tk = mha::Tensor::Bhsd(k.data(), MHA_F32, 1, 1, 3, 4);
  auto tv = mha::Tensor::Bshd(v.data(), MHA_F32, 1, 3, 1, 4);
  auto to = mha::Tensor::Bshd(out.data(), MHA_F32, 1, 2, 1, 4);
  ctx.Attention(tq, tk, tv, to, mha::AttentionOptions().Causal().Scale(0.5f));
  auto bad = mha::Tensor::Bshd(out.data(), MHA_F32, 1, 2, 1, 3);
  try {
    ctx.Attention(tq, tk, tv, bad);
    FAIL("no exception");
  } catch (const mha::Error& e) {
    CHECK(e.status() == MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(e.what(), Contains("out.dims[3]=3"));
  }
  CHECK_THROWS_AS(mha::Context("nonsense"), mha::Error);
  CHECK(mha::BackendVersion("reference") == "1");
  CHECK_THROWS_AS(mha::BackendVersion("nonsense"), mha::Error);
}

TEST_CASE("several threads share one context", "[api][threads]") {
  Call call;
  REQUIRE(call.Run() == MHA_OK);
  const std::vector<float> want = call.out.values;
  constexpr int kThreads = 4;
  std::vector<std::vector<float>> outs(kThreads, std::vector<float>(want.size()));
  std::vector<mha_status> statuses(kThreads, MHA_ERR_INTERNAL);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      mha_tensor out = call.out.view;
      out.data = outs[t].data();
      mha_status s = MHA_OK;
      for (int r = 0; r < 20 && s == MHA_OK; ++r) {
        s = mha_attention(call.ctx.get(), call.q.get(), call.k.get(), call.v.get(), &out,
                          &call.desc);
      }
      statuses[t] = s;
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    CHECK(statuses[t] == MHA_OK);
    CHECK(outs[t] == want);
  }
}

TEST_CASE("errors are per thread", "[api][threads]") {
  Call call;
  call.desc.causal = 5;
  REQUIRE(call.Run() == MHA_ERR_INVALID_ARGUMENT);
  std::string other;
  std::thread([&] { other = mha_last_error(); }).join();
  CHECK(other.empty());
  CHECK_THAT(mha_last_error(), Contains("causal=5"));
}

TEST_CASE("version and names", "[api]") {
  CHECK(std::string(mha_version()).find('.') != std::string::npos);
  CHECK(std::string(mha_dtype_name(MHA_BF16)) == "bf16");
  CHECK(std::string(mha_status_name(MHA_ERR_UNSUPPORTED)) == "MHA_ERR_UNSUPPORTED");
}

}  // namespace
}  // namespace mha_test
