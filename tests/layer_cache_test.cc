// The KV cache through the layer: a prompt and then decode steps (or chunks) equal one
// causal forward over the whole sequence, row by row of a batch whose rows have
// different lengths; truncate then re-decode equals the shorter history.
#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "layer_util.h"
#include "mha/mha.hpp"
#include "test_util.h"

namespace mha_test {
namespace {

constexpr int64_t kModel = 48, kHeads = 4, kKvHeads = 2, kHeadDim = 12;

// A LLaMA-like layer (GQA, RoPE, causal) with biases, its weights owned here.
struct CachedLayer {
  std::vector<float> wq, wk, wv, wo, bq, bo;
  mha_layer* layer = nullptr;

  explicit CachedLayer(mha_context* ctx) {
    std::mt19937_64 rng(5);
    const float s = 1.0f / std::sqrt(float(kModel));
    wq = RandomValues(kHeads * kHeadDim * kModel, rng, s);
    wk = RandomValues(kKvHeads * kHeadDim * kModel, rng, s);
    wv = RandomValues(kKvHeads * kHeadDim * kModel, rng, s);
    wo = RandomValues(kModel * kHeads * kHeadDim, rng, s);
    bq = RandomValues(kHeads * kHeadDim, rng, 0.1f);
    bo = RandomValues(kModel, rng, 0.1f);
    mha_layer_desc d;
    mha_layer_desc_init(&d);
    d.d_model = kModel;
    d.num_heads = kHeads;
    d.num_kv_heads = kKvHeads;
    d.head_dim = kHeadDim;
    d.wq = wq.data();
    d.wk = wk.data();
    d.wv = wv.data();
    d.wo = wo.data();
    d.bq = bq.data();
    d.bo = bo.data();
    d.causal = 1;
    d.rope = MHA_ROPE_NEOX;
    REQUIRE(mha_layer_create(ctx, &d, &layer) == MHA_OK);
  }
  ~CachedLayer() { mha_layer_destroy(layer); }

  // out rows for x rows [B, L, E]; q_lens may be empty.
  std::vector<float> Forward(std::vector<float> x, int64_t B, int64_t L,
                             const std::vector<int32_t>& q_lens, mha_kv_cache* cache) {
    std::vector<float> out(size_t(B * L * kModel), 9.0f);
    mha_tensor xv = RowsView(x.data(), MHA_F32, B, L, kModel);
    mha_tensor ov = RowsView(out.data(), MHA_F32, B, L, kModel);
    mha_layer_options o;
    mha_layer_options_init(&o);
    if (!q_lens.empty()) o.q_lens = q_lens.data();
    const mha_status s = mha_layer_forward(layer, &xv, nullptr, &ov, &o, cache);
    INFO(mha_last_error());
    REQUIRE(s == MHA_OK);
    return out;
  }
};

std::vector<float> Slice(const std::vector<float>& rows, int64_t begin, int64_t count) {
  return std::vector<float>(rows.begin() + begin * kModel, rows.begin() + (begin + count) * kModel);
}

struct CacheTolerance {
  double atol, rtol;
};

CacheTolerance For(mha_dtype cache_dtype) {
  return cache_dtype == MHA_F32 ? CacheTolerance{1e-4, 1e-4} : CacheTolerance{2e-2, 0.0};
}

TEST_CASE("layer cache: prompt + steps equals one causal forward, rows of different "
          "lengths", "[layer][cache]") {
  const std::vector<int64_t> lengths = {11, 6, 8};  // each row's whole sequence
  const int64_t B = 3;
  std::mt19937_64 rng(9);
  std::vector<std::vector<float>> tokens;
  for (int64_t len : lengths) tokens.push_back(RandomValues(size_t(len * kModel), rng, 1.0f));
  for (const std::string& backend : LayerBackends()) {
    ScopedContext ctx(backend.c_str());
    REQUIRE(ctx.status() == MHA_OK);
    CachedLayer layer(ctx.get());
    for (mha_dtype cache_dtype : {MHA_F32, MHA_BF16, MHA_F16}) {
      for (int64_t chunk : {1, 3}) {
        INFO(backend << " cache " << mha_dtype_name(cache_dtype) << " steps of " << chunk);
        mha_kv_cache* cache = nullptr;
        REQUIRE(mha_kv_cache_create(ctx.get(), B, kKvHeads, 12, kHeadDim, cache_dtype,
                                    &cache) == MHA_OK);
        // The prompt: 4 tokens of row 0, 2 of row 1, 5 of row 2 (right padded to 5).
        std::vector<int64_t> done = {0, 0, 0};
        std::vector<std::vector<float>> got(B);
        for (std::vector<int32_t> step = {4, 2, 5};;) {
          const int64_t L = *std::max_element(step.begin(), step.end());
          if (L == 0) break;
          std::vector<float> x(size_t(B * L * kModel), 0.0f);
          for (int64_t b = 0; b < B; ++b) {
            std::copy_n(tokens[b].begin() + done[b] * kModel, step[b] * kModel,
                        x.begin() + b * L * kModel);
          }
          const std::vector<float> out = layer.Forward(x, B, L, step, cache);
          for (int64_t b = 0; b < B; ++b) {
            const std::vector<float> rows = Slice(out, b * L, step[b]);
            got[b].insert(got[b].end(), rows.begin(), rows.end());
            done[b] += step[b];
            CHECK(mha_kv_cache_length(cache, b) == done[b]);
            step[b] = int32_t(std::min(chunk, lengths[b] - done[b]));
          }
        }
        for (int64_t b = 0; b < B; ++b) {
          INFO("row " << b);
          const std::vector<float> want = layer.Forward(tokens[b], 1, lengths[b], {}, nullptr);
          const CacheTolerance tol = For(cache_dtype);
          CheckClose(got[b], want, tol.atol * std::max(1.0, MaxAbs(want)), tol.rtol, "out");
        }
        mha_kv_cache_destroy(cache);
      }
    }
  }
}

TEST_CASE("layer cache: truncate then re-decode equals the shorter history",
          "[layer][cache]") {
  std::mt19937_64 rng(10);
  const std::vector<float> first = RandomValues(9 * kModel, rng, 1.0f);
  const std::vector<float> second = RandomValues(3 * kModel, rng, 1.0f);
  for (const std::string& backend : LayerBackends()) {
    INFO(backend);
    ScopedContext ctx(backend.c_str());
    REQUIRE(ctx.status() == MHA_OK);
    CachedLayer layer(ctx.get());
    mha_kv_cache* cache = nullptr;
    REQUIRE(mha_kv_cache_create(ctx.get(), 1, kKvHeads, 16, kHeadDim, MHA_F32, &cache) ==
            MHA_OK);
    layer.Forward(first, 1, 9, {}, cache);
    REQUIRE(mha_kv_cache_truncate(cache, 0, 6) == MHA_OK);  // speculation of 3 rejected
    const std::vector<float> got = layer.Forward(second, 1, 3, {}, cache);
    CHECK(mha_kv_cache_length(cache, 0) == 9);

    std::vector<float> history = Slice(first, 0, 6);
    history.insert(history.end(), second.begin(), second.end());
    const std::vector<float> want = Slice(layer.Forward(history, 1, 9, {}, nullptr), 6, 3);
    CheckClose(got, want, 1e-4, 1e-4, "re-decoded rows");

    mha_kv_cache_reset(cache);
    CHECK(mha_kv_cache_length(cache, 0) == 0);
    CheckClose(layer.Forward(history, 1, 9, {}, cache),
               layer.Forward(history, 1, 9, {}, nullptr), 1e-4, 1e-4, "after reset");
    mha_kv_cache_destroy(cache);
  }
}

TEST_CASE("layer cache: mha_attention reads the cache in place", "[layer][cache]") {
  ScopedContext ctx("reference");
  CachedLayer layer(ctx.get());
  mha_kv_cache* cache = nullptr;
  REQUIRE(mha_kv_cache_create(ctx.get(), 1, kKvHeads, 8, kHeadDim, MHA_F32, &cache) == MHA_OK);
  std::mt19937_64 rng(12);
  layer.Forward(RandomValues(5 * kModel, rng, 1.0f), 1, 5, {}, cache);
  mha_tensor k, v;
  REQUIRE(mha_kv_cache_views(cache, &k, &v) == MHA_OK);
  CHECK(k.dims[0] == 1);
  CHECK(k.dims[1] == 8);
  CHECK(k.dims[2] == kKvHeads);
  CHECK(k.dims[3] == kHeadDim);
  CHECK(k.strides[1] == kKvHeads * kHeadDim);
  // The cached K rows are the projected, rotated keys: nonzero where written.
  const float* kd = static_cast<const float*>(k.data);
  double written = 0;
  for (int64_t i = 0; i < 5 * kKvHeads * kHeadDim; ++i) written += std::fabs(kd[i]);
  CHECK(written > 0);
  Dense q(1, 1, kHeads, kHeadDim, 0.5f), out(1, 1, kHeads, kHeadDim);
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  const int32_t lens[1] = {5};
  desc.kv_lens = lens;
  CHECK(mha_attention(ctx.get(), q.get(), &k, &v, out.get(), &desc) == MHA_OK);
  mha_kv_cache_destroy(cache);
}

TEST_CASE("layer cache: the C++ wrapper runs the same steps", "[layer][cache][cpp]") {
  mha::Context ctx("reference");
  CachedLayer c_layer(ctx.get());
  mha_layer_desc d;
  mha_layer_desc_init(&d);
  d.d_model = kModel;
  d.num_heads = kHeads;
  d.num_kv_heads = kKvHeads;
  d.head_dim = kHeadDim;
  d.wq = c_layer.wq.data();
  d.wk = c_layer.wk.data();
  d.wv = c_layer.wv.data();
  d.wo = c_layer.wo.data();
  d.bq = c_layer.bq.data();
  d.bo = c_layer.bo.data();
  d.causal = 1;
  d.rope = MHA_ROPE_NEOX;
  mha::Layer layer(ctx, d);
  mha::KvCache cache(ctx, 1, kKvHeads, 8, kHeadDim, MHA_F32);
  std::mt19937_64 rng(13);
  std::vector<float> x = RandomValues(6 * kModel, rng, 1.0f), out(6 * kModel);
  mha::Tensor prompt = mha::Rows(x.data(), MHA_F32, 1, 4, kModel);
  mha::Tensor prompt_out = mha::Rows(out.data(), MHA_F32, 1, 4, kModel);
  layer.Forward(prompt, prompt_out, mha::LayerOptions(), &cache);
  for (int64_t t = 4; t < 6; ++t) {
    mha::Tensor step = mha::Rows(x.data() + t * kModel, MHA_F32, 1, 1, kModel);
    mha::Tensor step_out = mha::Rows(out.data() + t * kModel, MHA_F32, 1, 1, kModel);
    layer.Forward(step, step_out, mha::LayerOptions(), &cache);
  }
  CHECK(cache.length(0) == 6);
  CheckClose(out, c_layer.Forward(x, 1, 6, {}, nullptr), 1e-5, 1e-5, "C++ steps");
  cache.Truncate(0, 2);
  CHECK(cache.length(0) == 2);
  CHECK_THROWS_AS(cache.Truncate(0, 3), mha::Error);
  mha::Tensor wide = mha::Rows(x.data(), MHA_F32, 1, 1, kModel - 1);
  CHECK_THROWS_WITH(layer.Forward(wide, prompt_out),
                    Catch::Matchers::Contains("must be {B, L, 1, d_model=48}"));
}

}  // namespace
}  // namespace mha_test
