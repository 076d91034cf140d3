// The layer on every backend against the reference backend on random configurations,
// the KV cache's identities (prefill + steps = one causal forward; rows of different
// lengths; truncate + re-decode = the shorter history) and the layer's bad inputs.
// Tolerances: everything f32, |err| <= 1e-4 (1 + |want|); any 16-bit weight, activation
// or cache, |err| <= 2e-2 max|want| (one bf16 rounding of each operand, up to 2^-8 relative,
// through two GEMMs and attention).
#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "layer_util.h"
#include "test_util.h"

namespace mha_test {
namespace {

// A random layer: shape, weights in f32 (converted per dtype), attention options.
struct LayerConfig {
  int64_t d_model = 32, kv_d_model = 0, heads = 4, kv_heads = 4, head_dim = 8;
  bool packed = true, bias = true, causal = false, cross = false;
  int64_t window_left = -1;
  mha_rope_style rope = MHA_ROPE_NONE;
  int64_t rope_dims = 0;
  mha_dtype weight_dtype = MHA_F32, activation_dtype = MHA_F32;
  std::vector<float> wq, wk, wv, wo, bq, bk, bv, bo;

  void Randomize(std::mt19937_64& rng) {
    const int64_t kv_in = kv_d_model ? kv_d_model : d_model;
    const float w_scale = 1.0f / std::sqrt(float(d_model));
    wq = RandomValues(size_t(heads * head_dim * d_model), rng, w_scale);
    wk = RandomValues(size_t(kv_heads * head_dim * kv_in), rng, w_scale);
    wv = RandomValues(size_t(kv_heads * head_dim * kv_in), rng, w_scale);
    wo = RandomValues(size_t(d_model * heads * head_dim), rng, w_scale);
    bq = RandomValues(size_t(heads * head_dim), rng, 0.1f);
    bk = RandomValues(size_t(kv_heads * head_dim), rng, 0.1f);
    bv = RandomValues(size_t(kv_heads * head_dim), rng, 0.1f);
    bo = RandomValues(size_t(d_model), rng, 0.1f);
  }

  bool Sixteen() const { return weight_dtype != MHA_F32 || activation_dtype != MHA_F32; }
};

// The desc of a config, owning its converted weights.
struct BuiltDesc {
  Typed in_proj, wq, wk, wv, wo;
  std::vector<float> in_bias;
  mha_layer_desc desc;

  explicit BuiltDesc(const LayerConfig& c) {
    mha_layer_desc_init(&desc);
    desc.d_model = c.d_model;
    desc.kv_d_model = c.kv_d_model;
    desc.num_heads = c.heads;
    desc.num_kv_heads = c.kv_heads;
    desc.head_dim = c.head_dim;
    desc.weight_dtype = c.weight_dtype;
    desc.activation_dtype = c.activation_dtype;
    if (c.packed) {
      std::vector<float> all = c.wq;
      all.insert(all.end(), c.wk.begin(), c.wk.end());
      all.insert(all.end(), c.wv.begin(), c.wv.end());
      in_proj = Typed(all, c.weight_dtype);
      desc.in_proj_weight = in_proj.data();
    } else {
      wq = Typed(c.wq, c.weight_dtype);
      wk = Typed(c.wk, c.weight_dtype);
      wv = Typed(c.wv, c.weight_dtype);
      desc.wq = wq.data();
      desc.wk = wk.data();
      desc.wv = wv.data();
    }
    wo = Typed(c.wo, c.weight_dtype);
    desc.wo = wo.data();
    if (c.bias && c.packed) {
      in_bias = c.bq;
      in_bias.insert(in_bias.end(), c.bk.begin(), c.bk.end());
      in_bias.insert(in_bias.end(), c.bv.begin(), c.bv.end());
      desc.in_proj_bias = in_bias.data();
    } else if (c.bias) {
      desc.bq = c.bq.data();
      desc.bk = c.bk.data();
      desc.bv = c.bv.data();
    }
    if (c.bias) desc.bo = c.bo.data();
    desc.causal = c.causal ? 1 : 0;
    desc.window_left = c.window_left;
    desc.rope = c.rope;
    desc.rope_dims = c.rope_dims;
  }
};

// One forward on ctx; returns out as floats. q_lens may be empty.
std::vector<float> RunLayer(mha_context* ctx, const LayerConfig& c, const Typed& x, int64_t B,
                            int64_t L, const Typed* x_kv, int64_t Lkv,
                            const std::vector<int32_t>& q_lens, mha_dtype out_dtype) {
  BuiltDesc built(c);
  mha_layer* layer = nullptr;
  REQUIRE(mha_layer_create(ctx, &built.desc, &layer) == MHA_OK);
  Typed out(std::vector<float>(size_t(B * L * c.d_model), 7.0f), out_dtype);
  mha_tensor xv = RowsView(const_cast<void*>(x.data()), x.dtype, B, L, c.d_model);
  mha_tensor ov = RowsView(out.data(), out_dtype, B, L, c.d_model);
  mha_tensor kvv{};
  if (x_kv) {
    kvv = RowsView(const_cast<void*>(x_kv->data()), x_kv->dtype, B, Lkv,
                   c.kv_d_model ? c.kv_d_model : c.d_model);
  }
  mha_layer_options options;
  mha_layer_options_init(&options);
  if (!q_lens.empty()) options.q_lens = q_lens.data();
  const mha_status s = mha_layer_forward(layer, &xv, x_kv ? &kvv : nullptr, &ov, &options,
                                         nullptr);
  INFO(mha_last_error());
  REQUIRE(s == MHA_OK);
  mha_layer_destroy(layer);
  return out.Floats();
}

TEST_CASE("layer: every backend matches the reference backend on random layers",
          "[layer]") {
  ScopedContext reference("reference");
  std::mt19937_64 rng(11);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };
  const mha_dtype kDtypes[] = {MHA_F32, MHA_BF16, MHA_F16};
  for (const std::string& backend : LayerBackends()) {
    ScopedContext ctx(backend.c_str());
    REQUIRE(ctx.status() == MHA_OK);
    for (int trial = 0; trial < 40; ++trial) {
      LayerConfig c;
      c.kv_heads = pick(1, 3);
      c.heads = c.kv_heads * pick(1, 3);
      c.head_dim = 2 * pick(1, 40);
      c.d_model = pick(1, 100);
      c.cross = chance(0.2);
      c.kv_d_model = c.cross && chance(0.5) ? pick(1, 80) : 0;
      c.packed = !c.kv_d_model && chance(0.5);
      c.bias = chance(0.6);
      c.causal = !c.cross && chance(0.5);
      c.window_left = chance(0.15) ? pick(0, 6) : -1;
      c.rope = c.cross ? MHA_ROPE_NONE : static_cast<mha_rope_style>(pick(0, 2));
      c.rope_dims = c.rope != MHA_ROPE_NONE && chance(0.4) ? 2 * pick(1, c.head_dim / 2) : 0;
      c.weight_dtype = chance(0.5) ? MHA_F32 : kDtypes[pick(1, 2)];
      c.activation_dtype = chance(0.7) ? MHA_F32 : MHA_BF16;
      c.Randomize(rng);
      const int64_t B = pick(1, 3), L = pick(1, 40), Lkv = c.cross ? pick(1, 40) : L;
      const mha_dtype x_dtype = chance(0.7) ? MHA_F32 : kDtypes[pick(1, 2)];
      const mha_dtype out_dtype = chance(0.7) ? MHA_F32 : kDtypes[pick(1, 2)];
      const Typed x(RandomValues(size_t(B * L * c.d_model), rng, 1.0f), x_dtype);
      const int64_t kv_in = c.kv_d_model ? c.kv_d_model : c.d_model;
      const Typed x_kv(RandomValues(size_t(B * Lkv * kv_in), rng, 1.0f), x_dtype);
      std::vector<int32_t> q_lens;
      if (!c.cross && chance(0.3)) {
        for (int64_t b = 0; b < B; ++b) q_lens.push_back(int32_t(pick(0, L)));
      }
      INFO(backend << " trial " << trial << ": B=" << B << " L=" << L << " Lkv=" << Lkv
                   << " d_model=" << c.d_model << " kv_d_model=" << c.kv_d_model
                   << " Hq=" << c.heads << " Hkv=" << c.kv_heads << " D=" << c.head_dim
                   << " packed=" << c.packed << " bias=" << c.bias << " causal=" << c.causal
                   << " window=" << c.window_left << " rope=" << c.rope << "/" << c.rope_dims
                   << " w=" << mha_dtype_name(c.weight_dtype)
                   << " act=" << mha_dtype_name(c.activation_dtype)
                   << " x=" << mha_dtype_name(x_dtype) << " out=" << mha_dtype_name(out_dtype)
                   << " q_lens=" << q_lens.size());
      const std::vector<float> got = RunLayer(ctx.get(), c, x, B, L, c.cross ? &x_kv : nullptr,
                                              Lkv, q_lens, out_dtype);
      const std::vector<float> want = RunLayer(reference.get(), c, x, B, L,
                                               c.cross ? &x_kv : nullptr, Lkv, q_lens, MHA_F32);
      const bool sixteen = c.Sixteen() || x_dtype != MHA_F32 || out_dtype != MHA_F32;
      if (sixteen) {
        CheckClose(got, want, 2e-2 * std::max(1.0, MaxAbs(want)), 0.0, "out");
      } else {
        CheckClose(got, want, 1e-4, 1e-4, "out");
      }
    }
  }
}

}  // namespace
}  // namespace mha_test
