// Creating a layer: the desc's checks, its defaults resolved, the weights packed.
#include "layer.h"

#include <cinttypes>
#include <cmath>
#include <cstring>
#include <new>
#include <stdexcept>

#include "error.h"
#include "mha/kit/dtype.h"
#include "option_structs.h"
#include "validate.h"

namespace mha {
namespace {

mha_status CheckShape(const mha_layer_desc& d, mha_layer* l) {
  if (d.d_model < 1 || d.kv_d_model < 0 || d.num_heads < 1 || d.num_kv_heads < 0 ||
      d.head_dim < 0) {
    return Invalid(Format("desc: d_model=%" PRId64 ", num_heads=%" PRId64
                          " must be >= 1; kv_d_model=%" PRId64 ", num_kv_heads=%" PRId64
                          ", head_dim=%" PRId64 " must be >= 0 (0: the default)",
                          d.d_model, d.num_heads, d.kv_d_model, d.num_kv_heads, d.head_dim));
  }
  l->d_model = d.d_model;
  l->kv_d_model = d.kv_d_model ? d.kv_d_model : d.d_model;
  l->num_heads = d.num_heads;
  l->num_kv_heads = d.num_kv_heads ? d.num_kv_heads : d.num_heads;
  if (d.head_dim == 0 && d.d_model % d.num_heads != 0) {
    return Invalid(Format("desc->head_dim=0 but d_model=%" PRId64
                          " is not a multiple of num_heads=%" PRId64 "; give head_dim",
                          d.d_model, d.num_heads));
  }
  l->head_dim = d.head_dim ? d.head_dim : d.d_model / d.num_heads;
  if (l->num_heads % l->num_kv_heads != 0) {
    return Invalid(Format("desc->num_heads=%" PRId64 " is not a multiple of num_kv_heads=%"
                          PRId64, l->num_heads, l->num_kv_heads));
  }
  int64_t q_features, elements;
  const int64_t widest_input = std::max(l->d_model, l->kv_d_model);
  if (__builtin_mul_overflow(l->num_heads, l->head_dim, &q_features) ||
      __builtin_mul_overflow(q_features, widest_input, &elements)) {
    return Invalid(Format("desc: num_heads * head_dim * max(d_model, kv_d_model) = %" PRId64
                          " * %" PRId64 " * %" PRId64 " overflows int64",
                          l->num_heads, l->head_dim, widest_input));
  }
  if (!IsDtype(d.weight_dtype) || !IsDtype(d.activation_dtype)) {
    return Invalid(Format("desc->weight_dtype=%d, activation_dtype=%d: each must be MHA_F32, "
                          "MHA_BF16 or MHA_F16", DtypeValue(d.weight_dtype),
                          DtypeValue(d.activation_dtype)));
  }
  l->activation_dtype = d.activation_dtype;
  return MHA_OK;
}

mha_status CheckAttentionOptions(const mha_layer_desc& d, mha_layer* l) {
  if (mha_status s = CheckMaskOptions(d.scale, d.causal, d.window_left, d.window_right,
                                      d.softcap)) {
    return s;
  }
  mha_attention_desc_init(&l->attention);
  l->attention.scale = d.scale;
  l->attention.causal = d.causal;
  l->attention.window_left = d.window_left;
  l->attention.window_right = d.window_right;
  l->attention.softcap = d.softcap;
  if (d.alibi_slopes) {
    for (int64_t h = 0; h < l->num_heads; ++h) {
      if (!std::isfinite(d.alibi_slopes[h])) {
        return Invalid(Format("desc->alibi_slopes[%" PRId64 "]=%g must be finite", h,
                              static_cast<double>(d.alibi_slopes[h])));
      }
    }
    l->alibi.assign(d.alibi_slopes, d.alibi_slopes + l->num_heads);
    l->attention.alibi_slopes = l->alibi.data();
  }
  return MHA_OK;
}

mha_status CheckRope(const mha_layer_desc& d, mha_layer* l) {
  int style;  // the int a C caller stored, read without loading the enum (as DtypeValue)
  std::memcpy(&style, &d.rope, sizeof style);
  if (style != MHA_ROPE_NONE && style != MHA_ROPE_NEOX && style != MHA_ROPE_GPTJ) {
    return Invalid(Format("desc->rope=%d must be MHA_ROPE_NONE, MHA_ROPE_NEOX or "
                          "MHA_ROPE_GPTJ", style));
  }
  l->rope = style;
  if (style == MHA_ROPE_NONE) return MHA_OK;
  const int64_t dims = d.rope_dims ? d.rope_dims : l->head_dim;
  if (dims < 2 || dims % 2 != 0 || dims > l->head_dim) {
    return Invalid(Format("desc->rope_dims=%" PRId64 " must be even, >= 2 and <= head_dim=%"
                          PRId64 " (0: head_dim)", d.rope_dims, l->head_dim));
  }
  if (!std::isfinite(d.rope_theta) || d.rope_theta < 0 || (d.rope_theta > 0 &&
                                                           d.rope_theta <= 1)) {
    return Invalid(Format("desc->rope_theta=%g must be finite and > 1 (0: 10000)",
                          static_cast<double>(d.rope_theta)));
  }
  const double theta = d.rope_theta > 0 ? d.rope_theta : 10000.0;
  l->rope_dims = dims;
  l->rope_inv_freq.resize(static_cast<size_t>(dims / 2));
  for (int64_t i = 0; i < dims / 2; ++i) {
    l->rope_inv_freq[i] = static_cast<float>(std::pow(theta, -2.0 * double(i) / double(dims)));
  }
  return MHA_OK;
}

// One projection's weight rows and bias within the desc's matrices.
struct Projection {
  const char* name;
  const void* weight;
  const float* bias;
  int64_t out_features, in_features;
};

mha_status Pack(mha_context* ctx, const Projection& p, mha_dtype dtype,
                std::unique_ptr<mha_linear>* out) {
  if (!p.weight) return Invalid(Format("desc->%s is NULL", p.name));
  const mha_linear_desc desc = {p.out_features, p.in_features, dtype, p.weight,
                                p.in_features, p.bias};
  mha_linear* linear = nullptr;
  if (mha_status s = CreateLinear(ctx, desc, &linear)) return s;
  out->reset(linear);
  return MHA_OK;
}

mha_status PackWeights(const mha_layer_desc& d, mha_layer* l) {
  const int64_t q_out = l->num_heads * l->head_dim, kv_out = l->num_kv_heads * l->head_dim;
  const bool separate = d.wq || d.wk || d.wv;
  if (d.in_proj_weight && separate) {
    return Invalid("desc: give either in_proj_weight or wq, wk, wv, not both");
  }
  if (d.in_proj_bias && (d.bq || d.bk || d.bv)) {
    return Invalid("desc: give either in_proj_bias or bq, bk, bv, not both");
  }
  if (d.in_proj_weight && l->kv_d_model != l->d_model) {
    return Invalid(Format("desc->in_proj_weight packs [Wq; Wk; Wv] over one input width, but "
                          "kv_d_model=%" PRId64 " != d_model=%" PRId64 "; give wq, wk, wv",
                          l->kv_d_model, l->d_model));
  }
  const auto* packed = static_cast<const unsigned char*>(d.in_proj_weight);
  const int64_t row_bytes = l->d_model * DtypeSize(d.weight_dtype);
  const float* bias = d.in_proj_bias;
  const Projection q = {packed ? "in_proj_weight" : "wq", packed ? packed : d.wq,
                        bias ? bias : d.bq, q_out, l->d_model};
  const Projection k = {packed ? "in_proj_weight" : "wk",
                        packed ? packed + q_out * row_bytes : d.wk,
                        bias ? bias + q_out : d.bk, kv_out, l->kv_d_model};
  const Projection v = {packed ? "in_proj_weight" : "wv",
                        packed ? packed + (q_out + kv_out) * row_bytes : d.wv,
                        bias ? bias + q_out + kv_out : d.bv, kv_out, l->kv_d_model};
  const Projection o = {"wo", d.wo, d.bo, l->d_model, q_out};
  if (mha_status s = Pack(l->ctx, q, d.weight_dtype, &l->wq)) return s;
  if (mha_status s = Pack(l->ctx, k, d.weight_dtype, &l->wk)) return s;
  if (mha_status s = Pack(l->ctx, v, d.weight_dtype, &l->wv)) return s;
  return Pack(l->ctx, o, d.weight_dtype, &l->wo);
}

}  // namespace

mha_status CreateLayer(mha_context* ctx, const mha_layer_desc* desc, mha_layer** out) {
  if (!out) return Invalid("out is NULL");
  *out = nullptr;
  if (!ctx) return Invalid("ctx is NULL");
  if (!desc) return Invalid("desc is NULL");
  mha_layer_desc d;
  if (mha_status s = ReadLayerDesc(desc, &d)) return s;
  try {
    auto layer = std::make_unique<mha_layer>();
    layer->ctx = ctx;
    if (mha_status s = CheckShape(d, layer.get())) return s;
    if (mha_status s = CheckAttentionOptions(d, layer.get())) return s;
    if (mha_status s = CheckRope(d, layer.get())) return s;
    if (mha_status s = PackWeights(d, layer.get())) return s;
    *out = layer.release();
    return MHA_OK;
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {  // a vector longer than memory can be
  }
  return Fail(MHA_ERR_OUT_OF_MEMORY,
              Format("desc: d_model=%" PRId64 ", num_heads=%" PRId64 ", head_dim=%" PRId64
                     ": out of memory for the layer",
                     d.d_model, d.num_heads, d.head_dim));
}

}  // namespace mha

extern "C" {

mha_status mha_layer_create(mha_context* ctx, const mha_layer_desc* desc, mha_layer** out) {
  return mha::CreateLayer(ctx, desc, out);
}

void mha_layer_destroy(mha_layer* layer) { delete layer; }

mha_status mha_layer_forward(mha_layer* layer, const mha_tensor* x, const mha_tensor* x_kv,
                             mha_tensor* out, const mha_layer_options* options,
                             mha_kv_cache* cache) {
  return mha::ForwardLayer(layer, x, x_kv, out, options, cache);
}

}  // extern "C"
