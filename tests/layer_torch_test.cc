// The layer against PyTorch's nn.MultiheadAttention and transformers' LlamaAttention and
// GPTJAttention (fixtures in tests/data/layer, made by tools/make_layer_fixtures.py), on
// every backend. f32 weights: |err| <= 1e-4 + 1e-4 |want| (f32 GEMMs and softmax against
// torch's f32). bf16 and f16 weights are the fixture's weights rounded, so the outputs
// differ from torch's by the rounding: |err| <= 2e-2 max|want|.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "fixture_reader.h"
#include "layer_util.h"
#include "test_util.h"

namespace mha_test {
namespace {

struct Tolerance {
  double atol, rtol;
};

Tolerance ForWeights(mha_dtype dtype, const std::vector<float>& want) {
  if (dtype == MHA_F32) return {1e-4, 1e-4};
  return {2e-2 * MaxAbs(want), 0.0};
}

// An nn.MultiheadAttention fixture's weights as a desc, in `dtype`.
struct TorchMha {
  Typed in_proj, out_proj;
  mha_layer_desc desc;

  TorchMha(const Fixture& f, mha_dtype dtype)
      : in_proj(f.F32("in_proj_weight"), dtype), out_proj(f.F32("out_proj_weight"), dtype) {
    mha_layer_desc_init(&desc);
    desc.d_model = f.Dims("x")[2];
    desc.num_heads = static_cast<int64_t>(f.Scalar("num_heads"));
    desc.weight_dtype = dtype;
    desc.in_proj_weight = in_proj.data();
    desc.wo = out_proj.data();
    if (f.Has("in_proj_bias")) desc.in_proj_bias = f.F32("in_proj_bias").data();
    if (f.Has("out_proj_bias")) desc.bo = f.F32("out_proj_bias").data();
  }
};

const mha_dtype kWeightDtypes[] = {MHA_F32, MHA_BF16, MHA_F16};

TEST_CASE("layer: nn.MultiheadAttention fixtures on every backend", "[layer][torch]") {
  for (const std::string& backend : LayerBackends()) {
    ScopedContext ctx(backend.c_str());
    REQUIRE(ctx.status() == MHA_OK);
    for (const char* name : {"mha_bias", "mha_nobias", "mha_padding_causal", "mha_cross"}) {
      const Fixture f = Fixture::Load(FixturePath(name));
      for (mha_dtype dtype : kWeightDtypes) {
        INFO(backend << " " << name << " weights " << mha_dtype_name(dtype));
        TorchMha torch(f, dtype);
        const bool causal = std::string(name) == "mha_padding_causal";
        torch.desc.causal = causal ? 1 : 0;
        mha_layer* layer = nullptr;
        REQUIRE(mha_layer_create(ctx.get(), &torch.desc, &layer) == MHA_OK);

        const std::vector<int64_t>& xd = f.Dims("x");
        const int64_t B = xd[0], L = xd[1], E = xd[2], H = torch.desc.num_heads;
        std::vector<float> x = f.F32("x");
        mha_tensor xv = RowsView(x.data(), MHA_F32, B, L, E);
        std::vector<float> x_kv;
        mha_tensor x_kv_view{};
        const bool cross = f.Has("x_kv");
        if (cross) {
          x_kv = f.F32("x_kv");
          x_kv_view = RowsView(x_kv.data(), MHA_F32, B, f.Dims("x_kv")[1], E);
        }
        const int64_t S = cross ? f.Dims("x_kv")[1] : L;
        std::vector<float> out(static_cast<size_t>(B * L * E), 1e9f);
        mha_tensor out_view = RowsView(out.data(), MHA_F32, B, L, E);

        mha_layer_options options;
        mha_layer_options_init(&options);
        if (causal) options.q_lens = f.I32("lens").data();  // right padding
        const bool weights = f.Has("weights");
        const bool averaged = weights && f.Dims("weights").size() == 3;
        const int64_t probs_heads = averaged ? 1 : H;
        Dense probs(B, probs_heads, L, S, -1.0f);
        if (weights) options.probs = probs.get();

        REQUIRE(mha_layer_forward(layer, &xv, cross ? &x_kv_view : nullptr, &out_view, &options,
                                  nullptr) == MHA_OK);
        std::vector<float> want = f.F32("out");
        if (causal) {
          // Torch still computes padded queries; ours are zeros. Compare the real rows
          // and check the padded ones are zero.
          const std::vector<int32_t>& lens = f.I32("lens");
          for (int64_t b = 0; b < B; ++b) {
            for (int64_t i = lens[b]; i < L; ++i) {
              for (int64_t e = 0; e < E; ++e) {
                CHECK(out[(b * L + i) * E + e] == 0.0f);
                out[(b * L + i) * E + e] = want[(b * L + i) * E + e] = 0.0f;
              }
            }
          }
        }
        const Tolerance tol = ForWeights(dtype, want);
        CheckClose(out, want, tol.atol, tol.rtol, "out");
        if (weights) {
          CheckClose(probs.values, f.F32("weights"), dtype == MHA_F32 ? 1e-5 : 2e-2, 0, "probs");
        }
        mha_layer_destroy(layer);
      }
    }
  }
}

// A LLaMA- or GPT-J-style fixture: separate Wq, Wk, Wv, Wo, no biases, RoPE, causal.
struct RotaryModel {
  Typed wq, wk, wv, wo;
  mha_layer_desc desc;

  RotaryModel(const Fixture& f, mha_dtype dtype, mha_rope_style rope)
      : wq(f.F32("wq"), dtype), wk(f.F32("wk"), dtype), wv(f.F32("wv"), dtype),
        wo(f.F32("wo"), dtype) {
    mha_layer_desc_init(&desc);
    desc.d_model = f.Dims("wq")[1];
    desc.num_heads = static_cast<int64_t>(f.Scalar("num_heads"));
    desc.num_kv_heads = f.Has("num_kv_heads") ? static_cast<int64_t>(f.Scalar("num_kv_heads"))
                                              : 0;
    desc.weight_dtype = dtype;
    desc.wq = wq.data();
    desc.wk = wk.data();
    desc.wv = wv.data();
    desc.wo = wo.data();
    desc.causal = 1;
    desc.rope = rope;
    desc.rope_theta = f.Scalar("theta");
    if (f.Has("rotary_dim")) desc.rope_dims = static_cast<int64_t>(f.Scalar("rotary_dim"));
  }
};

std::vector<float> Forward(mha_context* ctx, const mha_layer_desc& desc,
                           std::vector<float> x, int64_t B, int64_t L) {
  mha_layer* layer = nullptr;
  REQUIRE(mha_layer_create(ctx, &desc, &layer) == MHA_OK);
  const int64_t E = desc.d_model;
  std::vector<float> out(static_cast<size_t>(B * L * E));
  mha_tensor xv = RowsView(x.data(), MHA_F32, B, L, E);
  mha_tensor ov = RowsView(out.data(), MHA_F32, B, L, E);
  REQUIRE(mha_layer_forward(layer, &xv, nullptr, &ov, nullptr, nullptr) == MHA_OK);
  mha_layer_destroy(layer);
  return out;
}

TEST_CASE("layer: LlamaAttention (GQA, half-split RoPE) and GPTJAttention (interleaved, "
          "partial RoPE) fixtures", "[layer][torch]") {
  for (const std::string& backend : LayerBackends()) {
    ScopedContext ctx(backend.c_str());
    REQUIRE(ctx.status() == MHA_OK);
    struct Model { const char* name; mha_rope_style rope; };
    for (Model m :
         {Model{"llama_gqa", MHA_ROPE_NEOX}, Model{"gptj_interleaved", MHA_ROPE_GPTJ}}) {
      const Fixture f = Fixture::Load(FixturePath(m.name));
      for (mha_dtype dtype : kWeightDtypes) {
        INFO(backend << " " << m.name << " weights " << mha_dtype_name(dtype));
        const RotaryModel model(f, dtype, m.rope);
        const std::vector<int64_t>& xd = f.Dims("x");
        const std::vector<float> out = Forward(ctx.get(), model.desc, f.F32("x"), xd[0], xd[1]);
        const std::vector<float>& want = f.F32("out");
        const Tolerance tol = ForWeights(dtype, want);
        CheckClose(out, want, tol.atol, tol.rtol, "out");
      }
    }
  }
}

TEST_CASE("layer: a LLaMA prompt then single-token steps through a KV cache match "
          "transformers", "[layer][torch][cache]") {
  const Fixture weights = Fixture::Load(FixturePath("llama_gqa"));
  const Fixture f = Fixture::Load(FixturePath("llama_decode"));
  const int64_t L = f.Dims("x")[1], E = f.Dims("x")[2];
  const int64_t prompt = static_cast<int64_t>(f.Scalar("prompt_len"));
  for (const std::string& backend : LayerBackends()) {
    ScopedContext ctx(backend.c_str());
    REQUIRE(ctx.status() == MHA_OK);
    for (mha_dtype cache_dtype : {MHA_F32, MHA_BF16}) {
      INFO(backend << " cache " << mha_dtype_name(cache_dtype));
      const RotaryModel model(weights, MHA_F32, MHA_ROPE_NEOX);
      mha_layer* layer = nullptr;
      REQUIRE(mha_layer_create(ctx.get(), &model.desc, &layer) == MHA_OK);
      mha_kv_cache* cache = nullptr;
      REQUIRE(mha_kv_cache_create(ctx.get(), 1, 2, L, E / 8, cache_dtype, &cache) == MHA_OK);
      std::vector<float> x = f.F32("x"), out(static_cast<size_t>(L * E));
      for (int64_t start = 0; start < L; start += start == 0 ? prompt : 1) {
        const int64_t n = start == 0 ? prompt : 1;
        mha_tensor xv = RowsView(x.data() + start * E, MHA_F32, 1, n, E);
        mha_tensor ov = RowsView(out.data() + start * E, MHA_F32, 1, n, E);
        REQUIRE(mha_layer_forward(layer, &xv, nullptr, &ov, nullptr, cache) == MHA_OK);
        CHECK(mha_kv_cache_length(cache, 0) == start + n);
      }
      const std::vector<float>& want = f.F32("out");
      const Tolerance tol = cache_dtype == MHA_F32 ? Tolerance{1e-4, 1e-4}
                                                   : Tolerance{2e-2 * MaxAbs(want), 0.0};
      CheckClose(out, want, tol.atol, tol.rtol, "out");
      mha_kv_cache_destroy(cache);
      mha_layer_destroy(layer);
    }
  }
}

}  // namespace
}  // namespace mha_test
