// The Highway backend against the reference on every compiled and supported target
// of this CPU, plus the properties the conformance grid does not show: bitwise
// determinism across thread counts (also on the split-key decode path), fully
// masked rows, and large logits.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "conformance.h"
#include "highway_targets.h"
#include "hwy/highway.h"
#include "hwy/targets.h"
#include "mha/kit/dtype.h"
#include "test_util.h"

namespace mha_test {
namespace {

const std::vector<int64_t> kHeadDims = {1, 7, 16, 40, 64, 80, 96, 128, 256};

TEST_CASE("highway: conformance grid on every target", "[highway]") {
  for (int64_t target : Targets()) {
    ScopedTarget scoped(target);
    ScopedContext ctx("highway");
    REQUIRE(ctx.status() == MHA_OK);
    INFO("target " << hwy::TargetName(target));
    CHECK(std::string(mha_context_isa(ctx.get())) == hwy::TargetName(target));
    // The grid costs the f64 reference most of the time (CI also runs it under
    // sanitizers), so each target gets its own draw of cases.
    for (const Case& c : RandomCases(/*seed=*/target, /*count=*/100, /*max_len=*/300,
                                     kHeadDims)) {
      CheckAgainstReference(ctx.get(), c);
    }
    // Long ones, where key splits (decode), q blocks and tiles all cross their
    // edges: a decode over 3 kv heads of 2 query heads each (one item holds every
    // kv head, padded to 4 rows apiece); MHA decodes of 1 and 2 queries (a row
    // block spans 4 or 2 heads; with 2 queries a causal mask cuts the last tile);
    // a prefill.
    const std::vector<Case> longs = RandomCases(/*seed=*/target + 1, 4, /*max_len=*/50, {64, 80});
    const int64_t kv_heads[4] = {3, 4, 4, 1}, q_heads[4] = {6, 4, 4, 1};
    const int64_t q_lens[4] = {1, 1, 2, 1030};
    for (size_t n = 0; n < longs.size(); ++n) {
      Case big = longs[n];
      big.batch = 1;
      big.num_kv_heads = kv_heads[n];
      big.num_heads = q_heads[n];
      big.q_len = q_lens[n];
      big.kv_len = 1300;
      big.probs = false;
      if (n == 2) big.causal = true;
      if (!PackedQkvFits(big)) big.layout = Layout::kBshd;
      CheckAgainstReference(ctx.get(), big);
    }
    // bf16 decodes: groups of 4, 2 and 1 query heads (a row block of 1, 2 or 4
    // kv heads), head dims that are odd and even multiples of 16.
    const int64_t group_of[3] = {4, 2, 1};
    for (int n = 0; n < 3; ++n) {
      for (int64_t dim : {16, 80, 128}) {
        Case dec;
        dec.num_kv_heads = 4;
        dec.num_heads = 4 * group_of[n];
        dec.q_len = n == 1 ? 2 : 1;
        dec.kv_len = 700;
        dec.head_dim = dec.v_head_dim = dim;
        dec.q_dtype = dec.kv_dtype = dec.out_dtype = MHA_BF16;
        dec.causal = n == 1;
        dec.lse = true;
        dec.seed = static_cast<uint64_t>(target + 10 * n + dim);
        CheckAgainstReference(ctx.get(), dec);
      }
    }
    // bf16 prefills whose K/V are packed (16 q blocks per head) under sliding
    // windows, so that rows' first visible keys are odd and even (the vdpbf16ps
    // path pairs keys); on the best target only (the only one that path runs on).
    if (target != Targets().front()) continue;
    for (int64_t window_left : {37, 100, 255}) {
      Case w;
      w.num_heads = w.num_kv_heads = 2;
      w.q_len = w.kv_len = 1024;
      w.head_dim = w.v_head_dim = 32;
      w.q_dtype = w.kv_dtype = MHA_BF16;
      w.window_left = window_left;
      w.window_right = window_left == 100 ? 3 : -1;
      w.seed = static_cast<uint64_t>(target + window_left);
      CheckAgainstReference(ctx.get(), w);
    }
  }
}

// The best compiled and supported target among `allowed` (Highway target bits).
std::string ExpectedTarget(int64_t allowed) {
  for (int64_t target : Targets()) {
    if (target & allowed) return hwy::TargetName(target);
  }
  return "SCALAR";
}

TEST_CASE("highway: max_isa caps the target", "[highway]") {
  const struct {
    mha_isa isa;
    int64_t allowed;  // the Highway targets the level allows
  } kLevels[] = {
    {MHA_ISA_SCALAR, HWY_SCALAR},
#if HWY_ARCH_X86
    {MHA_ISA_SSE4, ~(HWY_SSE4 - 1)},
    {MHA_ISA_AVX2, ~(HWY_AVX2 - 1)},
    {MHA_ISA_AVX512, ~(HWY_AVX3 - 1)},
    {MHA_ISA_AVX512_BF16, ~(HWY_AVX3_DL - 1)},
#elif HWY_ARCH_ARM_A64
    // SVE_256 is SVE at 256 bits, SVE2_128 is SVE2 at 128 bits.
    {MHA_ISA_NEON, HWY_NEON | HWY_SCALAR},
    {MHA_ISA_SVE, HWY_SVE | HWY_SVE_256 | HWY_NEON | HWY_SCALAR},
    {MHA_ISA_SVE2, ~int64_t{0}},
#endif
    {MHA_ISA_NATIVE, ~int64_t{0}},
  };
  for (const auto& level : kLevels) {
    ScopedContext ctx(CappedOptions("highway", level.isa));
    REQUIRE(ctx.status() == MHA_OK);
    INFO("max_isa " << mha_isa_name(level.isa));
    CHECK(mha_context_isa(ctx.get()) == ExpectedTarget(level.allowed));
    CheckAgainstReference(ctx.get(), RandomCases(/*seed=*/6, 1, 100, {64})[0]);
  }
}

TEST_CASE("highway: large logits stay finite and accurate", "[highway]") {
  ScopedContext ctx("highway");
  REQUIRE(ctx.status() == MHA_OK);
  for (Case c : RandomCases(/*seed=*/5, /*count=*/20, /*max_len=*/200, {16, 64})) {
    c.logit_scale = 1e3f;
    c.softcap = 0.0f;
    c.lse = true;
    CheckAgainstReference(ctx.get(), c);
  }
}

// Runs one f32 call on `ctx` and returns out followed by lse.
std::vector<float> RunCall(mha_context* ctx, int64_t q_len, int64_t kv_len, bool causal,
                           const std::vector<int32_t>* kv_lens, uint64_t seed = 7,
                           int64_t D = 40) {
  const int64_t B = 2, Hq = 4, Hkv = 2;
  std::mt19937_64 rng(seed);
  Dense q(B, q_len, Hq, D), k(B, kv_len, Hkv, D), v(B, kv_len, Hkv, D), out(B, q_len, Hq, D);
  q.Randomize(rng);
  k.Randomize(rng);
  v.Randomize(rng);
  std::vector<float> lse(B * Hq * q_len);
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  desc.causal = causal;
  desc.kv_lens = kv_lens ? kv_lens->data() : nullptr;
  desc.lse = lse.data();
  if (mha_attention(ctx, q.get(), k.get(), v.get(), out.get(), &desc) != MHA_OK) return {};
  std::vector<float> result = out.values;
  result.insert(result.end(), lse.begin(), lse.end());
  return result;
}

std::vector<float> RunWithThreads(int threads, int64_t q_len, int64_t kv_len, bool causal,
                                  const std::vector<int32_t>* kv_lens, int64_t D = 40) {
  ScopedContext ctx("highway");
  REQUIRE(mha_context_set_num_threads(ctx.get(), threads) == MHA_OK);
  std::vector<float> result = RunCall(ctx.get(), q_len, kv_len, causal, kv_lens, 7, D);
  INFO(mha_last_error());
  REQUIRE(!result.empty());  // the call ran
  return result;
}

bool BitwiseEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST_CASE("highway: results do not depend on the thread count", "[highway]") {
  const std::vector<int32_t> lens = {2500, 700};
  SECTION("prefill") {
    // 1 and 2 threads pack K/V per head; 8 threads run items alone, unpacked.
    const std::vector<float> one = RunWithThreads(1, 300, 300, true, nullptr);
    CHECK(BitwiseEqual(one, RunWithThreads(2, 300, 300, true, nullptr)));
    CHECK(BitwiseEqual(one, RunWithThreads(8, 300, 300, true, nullptr)));
  }
  SECTION("decode with key splits") {
    CHECK(BitwiseEqual(RunWithThreads(1, 1, 3000, false, &lens),
                       RunWithThreads(2, 1, 3000, false, &lens)));
    CHECK(BitwiseEqual(RunWithThreads(1, 2, 3000, true, nullptr),
                       RunWithThreads(3, 2, 3000, true, nullptr)));
  }
  SECTION("decode kernels (head_dim a multiple of 16): items over both kv heads, split") {
    CHECK(BitwiseEqual(RunWithThreads(1, 1, 3000, false, &lens, 64),
                       RunWithThreads(2, 1, 3000, false, &lens, 64)));
    CHECK(BitwiseEqual(RunWithThreads(1, 2, 3000, true, nullptr, 64),
                       RunWithThreads(3, 2, 3000, true, nullptr, 64)));
  }
}

TEST_CASE("highway: one context serves several threads at once", "[highway]") {
  ScopedContext ctx("highway");
  REQUIRE(mha_context_set_num_threads(ctx.get(), 1) == MHA_OK);
  // A prefill and a split-key decode, each checked against its run alone.
  const std::vector<float> want_a = RunCall(ctx.get(), 200, 200, true, nullptr, 11);
  const std::vector<float> want_b = RunCall(ctx.get(), 1, 2100, false, nullptr, 12);
  REQUIRE(!want_a.empty());
  REQUIRE(!want_b.empty());
  std::vector<float> got_a, got_b;
  std::thread a([&] {
    for (int rep = 0; rep < 3; ++rep) got_a = RunCall(ctx.get(), 200, 200, true, nullptr, 11);
  });
  std::thread b([&] {
    for (int rep = 0; rep < 3; ++rep) got_b = RunCall(ctx.get(), 1, 2100, false, nullptr, 12);
  });
  a.join();
  b.join();
  CHECK(BitwiseEqual(got_a, want_a));
  CHECK(BitwiseEqual(got_b, want_b));
}

// Prefill items pack each head's K and V into per-thread scratch that the
// context keeps between calls: a call must never find the previous call's rows.
// One head (the second call's first item is of the head the first call ended
// on) of 16 query blocks: units of 4 on 1 thread, the fewest that pack, and
// enough items not to split the keys.
TEST_CASE("highway: a call never reuses K and V packed by the previous one", "[highway]") {
  const int64_t L = 1024, D = 16;
  std::mt19937_64 rng(14);
  Dense q(1, L, 1, D), k(1, L, 1, D), v(1, L, 1, D), want(1, L, 1, D), got(1, L, 1, D);
  q.Randomize(rng);
  k.Randomize(rng);
  v.Randomize(rng);
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  ScopedContext fresh("highway"), ctx("highway");
  REQUIRE(mha_context_set_num_threads(fresh.get(), 1) == MHA_OK);
  REQUIRE(mha_context_set_num_threads(ctx.get(), 1) == MHA_OK);
  REQUIRE(mha_attention(fresh.get(), q.get(), k.get(), v.get(), want.get(), &desc) == MHA_OK);
  Dense k_first(1, L, 1, D), v_first(1, L, 1, D);
  k_first.Randomize(rng);
  v_first.Randomize(rng);
  REQUIRE(mha_attention(ctx.get(), q.get(), k_first.get(), v_first.get(), got.get(), &desc) ==
          MHA_OK);
  REQUIRE(mha_attention(ctx.get(), q.get(), k.get(), v.get(), got.get(), &desc) == MHA_OK);
  CHECK(BitwiseEqual(got.values, want.values));
}

TEST_CASE("highway: fully masked rows give zeros and -inf, never NaN", "[highway]") {
  const int64_t Lq = 5, Lk = 70, D = 16;
  std::mt19937_64 rng(9);
  Dense q(2, Lq, 1, D), k(2, Lk, 1, D), v(2, Lk, 1, D), out(2, Lq, 1, D, 7.0f);
  Dense bias(2, 1, Lq, Lk);
  q.Randomize(rng);
  k.Randomize(rng);
  v.Randomize(rng);
  // Batch 0: no keys at all. Batch 1: row 2 sees only -inf logits.
  for (int64_t j = 0; j < Lk; ++j) bias.at(1, 0, 2, j) = -INFINITY;
  const std::vector<int32_t> lens = {0, static_cast<int32_t>(Lk)};
  std::vector<float> lse(2 * Lq);
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  desc.kv_lens = lens.data();
  desc.bias = bias.get();
  desc.lse = lse.data();
  ScopedContext ctx("highway");
  REQUIRE(mha_attention(ctx.get(), q.get(), k.get(), v.get(), out.get(), &desc) == MHA_OK);
  for (int64_t i = 0; i < Lq; ++i) {
    for (int64_t e = 0; e < D; ++e) {
      CHECK(out.at(0, i, 0, e) == 0.0f);
      CHECK(std::isfinite(out.at(1, i, 0, e)));
    }
    CHECK(std::isinf(lse[i]));
  }
  for (int64_t e = 0; e < D; ++e) CHECK(out.at(1, 2, 0, e) == 0.0f);
  CHECK(std::isinf(lse[Lq + 2]));
  CHECK(std::isfinite(lse[Lq + 1]));
}

// A bf16 copy of a dense f32 tensor (rounded to nearest even; Inf and NaN kept).
struct Bf16Copy {
  std::vector<uint16_t> values;
  mha_tensor view;
  explicit Bf16Copy(const Dense& t) : values(t.values.size()), view(t.view) {
    view.data = values.data();
    view.dtype = MHA_BF16;
    for (size_t i = 0; i < values.size(); ++i) {
      mha::StoreFromF32(view.data, MHA_BF16, static_cast<int64_t>(i), t.values[i]);
    }
  }
};

// With one head V is widened tile by tile; with 4 heads (on 1 thread) each head's
// K and V are packed once for all its query blocks. In bf16 (on AVX3_DL with
// avx512_bf16, the vdpbf16ps path) V is paired by keys, in the tile or the pack.
TEST_CASE("highway: Inf and NaN in V reach only the rows that see them", "[highway]") {
  const int64_t D = 16;
  for (const auto& [H, L] : {std::pair<int64_t, int64_t>{1, 70}, {4, 200}}) {
    for (const bool bf16 : {false, true}) {
      INFO("heads " << H << ", length " << L << (bf16 ? ", bf16" : ", f32"));
      std::mt19937_64 rng(10);
      Dense q(1, L, H, D), k(1, L, H, D), v(1, L, H, D), out(1, L, H, D);
      q.Randomize(rng);
      k.Randomize(rng);
      v.Randomize(rng);
      // The last keys: under a causal mask, only the last rows see them.
      v.at(0, L - 1, H - 1, 3) = NAN;
      v.at(0, L - 2, H - 1, 5) = INFINITY;
      const Bf16Copy q16(q), k16(k), v16(v);
      mha_attention_desc desc;
      mha_attention_desc_init(&desc);
      desc.causal = 1;
      ScopedContext ctx("highway");
      REQUIRE(mha_context_set_num_threads(ctx.get(), 1) == MHA_OK);
      REQUIRE(mha_attention(ctx.get(), bf16 ? &q16.view : q.get(), bf16 ? &k16.view : k.get(),
                            bf16 ? &v16.view : v.get(), out.get(), &desc) == MHA_OK);
      for (int64_t h = 0; h < H; ++h) {
        for (int64_t i = 0; i < (h == H - 1 ? L - 2 : L); ++i) {
          for (int64_t e = 0; e < D; ++e) CHECK(std::isfinite(out.at(0, i, h, e)));
        }
      }
      CHECK(std::isinf(out.at(0, L - 2, H - 1, 5)));
      CHECK(std::isnan(out.at(0, L - 1, H - 1, 3)));
    }
  }
}

// The decode path reads V in place for tiles every row sees whole, and widens
// (checking for Inf / NaN) the tile that kv_lens cuts.
TEST_CASE("highway: decode keeps NaN in V to the keys a row sees", "[highway]") {
  const int64_t Lk = 200, Hq = 4, Hkv = 1, D = 64;
  std::mt19937_64 rng(13);
  Dense q(2, 1, Hq, D), k(2, Lk, Hkv, D), v(2, Lk, Hkv, D), out(2, 1, Hq, D);
  q.Randomize(rng);
  k.Randomize(rng);
  v.Randomize(rng);
  const std::vector<int32_t> lens = {150, static_cast<int32_t>(Lk)};
  v.at(0, 170, 0, 3) = NAN;  // batch 0: beyond kv_lens, in the tile it cuts
  v.at(1, 20, 0, 5) = NAN;   // batch 1: in a tile every row sees
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  desc.kv_lens = lens.data();
  for (int64_t target : Targets()) {
    ScopedTarget scoped(target);
    ScopedContext ctx("highway");
    INFO("target " << hwy::TargetName(target));
    REQUIRE(mha_attention(ctx.get(), q.get(), k.get(), v.get(), out.get(), &desc) == MHA_OK);
    for (int64_t h = 0; h < Hq; ++h) {
      for (int64_t e = 0; e < D; ++e) {
        CHECK(std::isfinite(out.at(0, 0, h, e)));
        CHECK(std::isnan(out.at(1, 0, h, e)) == (e == 5));
      }
    }
  }
}

}  // namespace
}  // namespace mha_test
