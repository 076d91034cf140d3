// The layer's and the cache's bad inputs: each is a status with a message that names
// the argument and its values, and changes nothing.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "layer_util.h"
#include "test_util.h"

namespace mha_test {
namespace {

using Catch::Matchers::Contains;

struct SmallLayer {
  std::vector<float> in_proj = std::vector<float>(3 * 16 * 16, 0.01f);
  std::vector<float> wo = std::vector<float>(16 * 16, 0.01f);
  mha_layer_desc desc;

  SmallLayer() {
    mha_layer_desc_init(&desc);
    desc.d_model = 16;
    desc.num_heads = 2;
    desc.in_proj_weight = in_proj.data();
    desc.wo = wo.data();
  }
};

void ExpectCreateFails(mha_context* ctx, const mha_layer_desc& d, const std::string& message) {
  mha_layer* layer = reinterpret_cast<mha_layer*>(1);
  CHECK(mha_layer_create(ctx, &d, &layer) == MHA_ERR_INVALID_ARGUMENT);
  CHECK(layer == nullptr);
  CHECK_THAT(mha_last_error(), Contains(message));
}

TEST_CASE("layer errors: bad descs are refused at create", "[layer][errors]") {
  ScopedContext ctx("reference");
  SmallLayer s;
  SECTION("NULL weights") {
    s.desc.wo = nullptr;
    ExpectCreateFails(ctx.get(), s.desc, "desc->wo is NULL");
    s.desc.wo = s.wo.data();
    s.desc.in_proj_weight = nullptr;
    ExpectCreateFails(ctx.get(), s.desc, "desc->wq is NULL");
  }
  SECTION("inconsistent sizes") {
    s.desc.num_heads = 3;
    ExpectCreateFails(ctx.get(), s.desc,
                      "d_model=16 is not a multiple of num_heads=3; give head_dim");
    s.desc.num_heads = 4;
    s.desc.num_kv_heads = 3;
    ExpectCreateFails(ctx.get(), s.desc, "num_heads=4 is not a multiple of num_kv_heads=3");
    s.desc.num_kv_heads = 0;
    s.desc.kv_d_model = 8;
    ExpectCreateFails(ctx.get(), s.desc, "kv_d_model=8 != d_model=16; give wq, wk, wv");
  }
  SECTION("wrong dtypes") {
    s.desc.weight_dtype = static_cast<mha_dtype>(7);
    ExpectCreateFails(ctx.get(), s.desc, "weight_dtype=7");
  }
  SECTION("both weight forms") {
    s.desc.wq = s.wo.data();
    ExpectCreateFails(ctx.get(), s.desc, "either in_proj_weight or wq, wk, wv, not both");
  }
  SECTION("rope") {
    s.desc.rope = MHA_ROPE_NEOX;
    s.desc.rope_dims = 5;
    ExpectCreateFails(ctx.get(), s.desc, "rope_dims=5 must be even");
    s.desc.rope_dims = 10;
    ExpectCreateFails(ctx.get(), s.desc, "<= head_dim=8");
    s.desc.rope_dims = 0;
    s.desc.rope_theta = 0.5f;
    ExpectCreateFails(ctx.get(), s.desc, "rope_theta=0.5 must be finite and > 1");
  }
  SECTION("both bias forms, and a bad attention option") {
    const std::vector<float> bias(3 * 16, 0.0f);
    s.desc.in_proj_bias = bias.data();
    s.desc.bq = bias.data();
    ExpectCreateFails(ctx.get(), s.desc, "either in_proj_bias or bq, bk, bv, not both");
    s.desc.bq = nullptr;
    s.desc.window_left = -3;
    ExpectCreateFails(ctx.get(), s.desc, "desc->window_left=-3");
  }
  SECTION("NULL arguments") {
    mha_layer* layer = nullptr;
    CHECK(mha_layer_create(ctx.get(), nullptr, &layer) == MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("desc is NULL"));
    CHECK(mha_layer_create(nullptr, &s.desc, &layer) == MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("ctx is NULL"));
    CHECK(mha_kv_cache_views(nullptr, nullptr, nullptr) == MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("cache is NULL"));
  }
}

TEST_CASE("layer errors: bad forwards and caches", "[layer][errors]") {
  ScopedContext ctx("reference");
  SmallLayer s;
  mha_layer* layer = nullptr;
  REQUIRE(mha_layer_create(ctx.get(), &s.desc, &layer) == MHA_OK);
  std::vector<float> x(2 * 3 * 16, 0.5f), out(2 * 3 * 16);
  mha_tensor xv = RowsView(x.data(), MHA_F32, 2, 3, 16);
  mha_tensor ov = RowsView(out.data(), MHA_F32, 2, 3, 16);

  SECTION("x of the wrong width") {
    mha_tensor bad = RowsView(x.data(), MHA_F32, 2, 3, 12);
    CHECK(mha_layer_forward(layer, &bad, nullptr, &ov, nullptr, nullptr) ==
          MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("x.dims {2, 3, 1, 12} must be {B, L, 1, d_model=16}"));
  }
  SECTION("out of another length") {
    mha_tensor bad = RowsView(out.data(), MHA_F32, 2, 2, 16);
    CHECK(mha_layer_forward(layer, &xv, nullptr, &bad, nullptr, nullptr) ==
          MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("out.dims[0..1] = {2, 2} but x's are {2, 3}"));
  }
  SECTION("q_lens out of range, q_lens and kv_lens disagreeing") {
    mha_layer_options o;
    mha_layer_options_init(&o);
    const int32_t lens[2] = {3, 4}, other[2] = {3, 2};
    o.q_lens = lens;
    CHECK(mha_layer_forward(layer, &xv, nullptr, &ov, &o, nullptr) == MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("options->q_lens[1]=4 must be in [0, 3]"));
    o.q_lens = other;
    o.kv_lens = lens + 0;
    const int32_t kv[2] = {3, 3};
    o.kv_lens = kv;
    CHECK(mha_layer_forward(layer, &xv, nullptr, &ov, &o, nullptr) == MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("q_lens and kv_lens differ"));
  }
  SECTION("cache overflow changes nothing") {
    mha_kv_cache* cache = nullptr;
    REQUIRE(mha_kv_cache_create(ctx.get(), 2, 2, 4, 8, MHA_F32, &cache) == MHA_OK);
    REQUIRE(mha_layer_forward(layer, &xv, nullptr, &ov, nullptr, cache) == MHA_OK);
    CHECK(mha_layer_forward(layer, &xv, nullptr, &ov, nullptr, cache) ==
          MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(),
               Contains("cache row 0 holds 3 tokens; 3 more overflow its capacity of 4"));
    CHECK(mha_kv_cache_length(cache, 0) == 3);
    CHECK(mha_kv_cache_length(cache, 1) == 3);
    mha_kv_cache_destroy(cache);
  }
  SECTION("a cache of another layer's shape") {
    mha_kv_cache* cache = nullptr;
    REQUIRE(mha_kv_cache_create(ctx.get(), 2, 1, 8, 8, MHA_F32, &cache) == MHA_OK);
    CHECK(mha_layer_forward(layer, &xv, nullptr, &ov, nullptr, cache) ==
          MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("cache is [batch=2, num_kv_heads=1, head_dim=8] but "
                                          "this forward needs [2, 2, 8]"));
    mha_kv_cache_destroy(cache);
  }
  SECTION("kv_lens or x_kv with a cache") {
    mha_kv_cache* cache = nullptr;
    REQUIRE(mha_kv_cache_create(ctx.get(), 2, 2, 8, 8, MHA_F32, &cache) == MHA_OK);
    mha_layer_options o;
    mha_layer_options_init(&o);
    const int32_t lens[2] = {1, 1};
    o.kv_lens = lens;
    CHECK(mha_layer_forward(layer, &xv, nullptr, &ov, &o, cache) == MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("kv_lens must be NULL with a cache"));
    CHECK(mha_layer_forward(layer, &xv, &xv, &ov, nullptr, cache) == MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("x_kv must be NULL with a cache"));
    mha_kv_cache_destroy(cache);
  }
  SECTION("self-attention of a cross-attention layer, x_kv of another batch") {
    std::vector<float> wq(16 * 16, 0.01f), wkv(16 * 8, 0.01f);
    mha_layer_desc d;
    mha_layer_desc_init(&d);
    d.d_model = 16, d.kv_d_model = 8, d.num_heads = 2;
    d.wq = wq.data(), d.wk = wkv.data(), d.wv = wkv.data(), d.wo = s.wo.data();
    mha_layer* cross = nullptr;
    REQUIRE(mha_layer_create(ctx.get(), &d, &cross) == MHA_OK);
    CHECK(mha_layer_forward(cross, &xv, nullptr, &ov, nullptr, nullptr) ==
          MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("x_kv is NULL (self-attention) but the layer's "
                                          "kv_d_model=8 != d_model=16"));
    std::vector<float> kv(1 * 4 * 8, 0.5f);
    mha_tensor kvv = RowsView(kv.data(), MHA_F32, 1, 4, 8);
    CHECK(mha_layer_forward(cross, &xv, &kvv, &ov, nullptr, nullptr) ==
          MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("x_kv.dims[0]=1 but x.dims[0] (batch) is 2"));
    mha_layer_destroy(cross);
  }
  SECTION("averaged probs of the wrong shape") {
    Dense probs(2, 1, 3, 4);
    mha_layer_options o;
    mha_layer_options_init(&o);
    o.probs = probs.get();
    CHECK(mha_layer_forward(layer, &xv, nullptr, &ov, &o, nullptr) == MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("options->probs is f32 {2, 1, 3, 4} but the mean over "
                                          "heads is f32 {2, 1, 3, 3}"));
  }
  SECTION("cache create and truncate") {
    mha_kv_cache* cache = nullptr;
    CHECK(mha_kv_cache_create(ctx.get(), 0, 2, 8, 8, MHA_F32, &cache) ==
          MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("batch=0"));
    REQUIRE(mha_kv_cache_create(ctx.get(), 2, 2, 8, 8, MHA_BF16, &cache) == MHA_OK);
    CHECK(mha_kv_cache_truncate(cache, 0, 1) == MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("length=1 must be in [0, 0]"));
    CHECK(mha_kv_cache_truncate(cache, 2, 0) == MHA_ERR_INVALID_ARGUMENT);
    CHECK_THAT(mha_last_error(), Contains("b=2 must be in [0, 2)"));
    CHECK(mha_kv_cache_length(cache, 5) == -1);
    mha_kv_cache_destroy(cache);
  }
  mha_layer_destroy(layer);
}

}  // namespace
}  // namespace mha_test
