// One forward of a layer: the checks, then Q/K/V projections (RoPE and the write into
// the head layout or the KV cache fused into their GEMMs), attention over the heads,
// and the output projection.
#include <algorithm>
#include <cinttypes>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

#include "error.h"
#include "kv_cache.h"
#include "layer.h"
#include "mha/kit/dtype.h"
#include "mha/kit/tensor_view.h"
#include "option_structs.h"
#include "validate.h"

namespace mha {
namespace {

// x, x_kv and out are [B, L, 1, features] views.
mha_status CheckRows(const char* name, const mha_tensor* t, int64_t features,
                     const char* features_name) {
  static const int64_t kMin[4] = {0, 0, 1, 1};
  if (mha_status s = CheckTensor(name, t, kMin, true)) return s;
  if (t->dims[2] != 1 || t->dims[3] != features) {
    return Invalid(Format("%s.dims {%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                          "} must be {B, L, 1, %s=%" PRId64 "}",
                          name, t->dims[0], t->dims[1], t->dims[2], t->dims[3], features_name,
                          features));
  }
  return MHA_OK;
}

mha_status CheckLens(const char* name, const int32_t* lens, int64_t batch, int64_t max) {
  if (!lens) return MHA_OK;
  for (int64_t b = 0; b < batch; ++b) {
    if (lens[b] < 0 || lens[b] > max) {
      return Invalid(Format("options->%s[%" PRId64 "]=%d must be in [0, %" PRId64 "]", name, b,
                            lens[b], max));
    }
  }
  return MHA_OK;
}

// Per-row counts of one forward: real queries, keys attended, cache offsets, and the
// RoPE position of each row's first new token.
struct RowPlan {
  std::vector<int32_t> queries, keys, cached;
  std::vector<int64_t> positions;
  int64_t max_keys = 0;  // Lk of the attention call
};

mha_status PlanRows(const mha_layer& l, const mha_layer_options& o, int64_t batch, int64_t len,
                    int64_t kv_len, bool self, const mha_kv_cache* cache, RowPlan* plan) {
  if (mha_status s = CheckLens("q_lens", o.q_lens, batch, len)) return s;
  if (mha_status s = CheckLens("kv_lens", o.kv_lens, batch, kv_len)) return s;
  const int32_t* q_lens = o.q_lens;
  const int32_t* kv_lens = o.kv_lens;
  if (self && !cache && (q_lens || kv_lens)) {
    // The same tokens are queries and keys: one length per row serves both.
    if (q_lens && kv_lens && !std::equal(q_lens, q_lens + batch, kv_lens)) {
      return Invalid("options->q_lens and kv_lens differ, but in self-attention queries and "
                     "keys are the same tokens; give one of them");
    }
    q_lens = kv_lens = q_lens ? q_lens : kv_lens;
  }
  if (cache) {
    if (kv_lens) {
      return Invalid("options->kv_lens must be NULL with a cache: the cache knows its "
                     "lengths (give q_lens for the new tokens per row)");
    }
    if (cache->batch != batch || cache->num_kv_heads != l.num_kv_heads ||
        cache->head_dim != l.head_dim) {
      return Invalid(Format("cache is [batch=%" PRId64 ", num_kv_heads=%" PRId64
                            ", head_dim=%" PRId64 "] but this forward needs [%" PRId64
                            ", %" PRId64 ", %" PRId64 "]",
                            cache->batch, cache->num_kv_heads, cache->head_dim, batch,
                            l.num_kv_heads, l.head_dim));
    }
  }
  plan->queries.resize(static_cast<size_t>(batch));
  plan->keys.resize(static_cast<size_t>(batch));
  plan->cached.assign(static_cast<size_t>(batch), 0);
  plan->positions.resize(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t queries = q_lens ? q_lens[b] : len;
    const int64_t cached = cache ? cache->lengths[b] : 0;
    if (cache && cached + queries > cache->capacity) {
      return Invalid(Format("cache row %" PRId64 " holds %" PRId64 " tokens; %" PRId64
                            " more overflow its capacity of %" PRId64,
                            b, cached, queries, cache->capacity));
    }
    const int64_t keys = cache ? cached + queries : (kv_lens ? kv_lens[b] : kv_len);
    plan->queries[b] = static_cast<int32_t>(queries);
    plan->keys[b] = static_cast<int32_t>(keys);
    plan->cached[b] = static_cast<int32_t>(cached);
    plan->positions[b] = o.position_offset + cached;
    plan->max_keys = std::max(plan->max_keys, keys);
  }
  if (!cache) plan->max_keys = kv_len;
  return MHA_OK;
}

// Bytes for a [B, L, H, D] buffer of `dtype`; false when the size overflows.
bool BufferBytes(int64_t batch, int64_t len, int64_t heads, int64_t dim, mha_dtype dtype,
                 int64_t* bytes) {
  return !__builtin_mul_overflow(batch, len, bytes) &&
         !__builtin_mul_overflow(*bytes, heads, bytes) &&
         !__builtin_mul_overflow(*bytes, dim, bytes) &&
         !__builtin_mul_overflow(*bytes, DtypeSize(dtype), bytes);
}

void WithRope(const mha_layer& l, const RowPlan& plan, mha_linear_call* c) {
  if (l.rope == MHA_ROPE_NONE) return;
  c->rope = l.rope;
  c->rope_dims = l.rope_dims;
  c->rope_inv_freq = l.rope_inv_freq.data();
  c->positions = plan.positions.data();
}

// probs [B, 1, L, Lk] = the mean over heads of per_head [B, Hq, L, Lk].
void AverageHeads(const std::vector<float>& per_head, int64_t heads, mha_tensor* probs) {
  const int64_t batch = probs->dims[0], len = probs->dims[2], keys = probs->dims[3];
  float* dst = static_cast<float*>(probs->data);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < len; ++i) {
      for (int64_t j = 0; j < keys; ++j) {
        double sum = 0;
        for (int64_t h = 0; h < heads; ++h) {
          sum += per_head[((b * heads + h) * len + i) * keys + j];
        }
        dst[b * probs->strides[0] + i * probs->strides[2] + j * probs->strides[3]] =
            static_cast<float>(sum / double(heads));
      }
    }
  }
}

void ZeroPaddingRows(const RowPlan& plan, mha_tensor* out) {
  for (int64_t b = 0; b < out->dims[0]; ++b) {
    for (int64_t s = plan.queries[b]; s < out->dims[1]; ++s) {
      const int64_t row = b * out->strides[0] + s * out->strides[1];
      for (int64_t n = 0; n < out->dims[3]; ++n) StoreFromF32(out->data, out->dtype, row + n, 0);
    }
  }
}

mha_status WorkspaceOverflows(int64_t batch, int64_t len) {
  return Invalid(Format("B=%" PRId64 ", L=%" PRId64 ": the layer's workspace overflows int64",
                        batch, len));
}

// The forward past the checks that need no allocation; it may throw std::bad_alloc.
mha_status ForwardRows(mha_layer* layer, const mha_tensor* x, const mha_tensor& kv_in, bool self,
                       mha_tensor* out, const mha_layer_options& o, mha_kv_cache* cache,
                       int64_t q_bytes, int64_t kv_bytes, int64_t work_bytes);

}  // namespace

mha_status ForwardLayer(mha_layer* layer, const mha_tensor* x, const mha_tensor* x_kv,
                        mha_tensor* out, const mha_layer_options* options,
                        mha_kv_cache* cache) {
  if (!layer) return Invalid("layer is NULL");
  const mha_layer& l = *layer;
  if (mha_status s = CheckRows("x", x, l.d_model, "d_model")) return s;
  if (mha_status s = CheckRows("out", out, l.d_model, "d_model")) return s;
  const int64_t batch = x->dims[0], len = x->dims[1];
  if (out->dims[0] != batch || out->dims[1] != len) {
    return Invalid(Format("out.dims[0..1] = {%" PRId64 ", %" PRId64 "} but x's are {%" PRId64
                          ", %" PRId64 "}", out->dims[0], out->dims[1], batch, len));
  }
  const bool self = x_kv == nullptr;
  if (self && l.kv_d_model != l.d_model) {
    return Invalid(Format("x_kv is NULL (self-attention) but the layer's kv_d_model=%" PRId64
                          " != d_model=%" PRId64, l.kv_d_model, l.d_model));
  }
  if (!self) {
    if (cache) return Invalid("x_kv must be NULL with a cache: a cache serves self-attention");
    if (mha_status s = CheckRows("x_kv", x_kv, l.kv_d_model, "kv_d_model")) return s;
    if (x_kv->dims[0] != batch) {
      return Invalid(Format("x_kv.dims[0]=%" PRId64 " but x.dims[0] (batch) is %" PRId64,
                            x_kv->dims[0], batch));
    }
  }
  const mha_tensor& kv_in = self ? *x : *x_kv;
  mha_layer_options o;
  if (mha_status s = ReadLayerOptions(options, &o)) return s;
  // Row lengths travel as int32 (q_lens, kv_lens).
  for (const mha_tensor* t : {x, x_kv}) {
    if (t && t->dims[1] > INT32_MAX) {
      return Invalid(Format("%s.dims[1]=%" PRId64 ": a row holds at most %d tokens",
                            t == x ? "x" : "x_kv", t->dims[1], INT32_MAX));
    }
  }
  const mha_dtype act = l.activation_dtype;
  // Q and the heads' outputs, then (without a cache) K and V.
  int64_t q_bytes, kv_bytes = 0, work_bytes, qkv_bytes;
  if (!BufferBytes(batch, len, l.num_heads, l.head_dim, act, &q_bytes) ||
      (!cache && !BufferBytes(batch, kv_in.dims[1], l.num_kv_heads, l.head_dim, act, &kv_bytes)) ||
      __builtin_add_overflow(q_bytes, kv_bytes, &qkv_bytes) ||
      __builtin_mul_overflow(qkv_bytes, 2, &work_bytes)) {
    return WorkspaceOverflows(batch, len);
  }
  try {
    return ForwardRows(layer, x, kv_in, self, out, o, cache, q_bytes, kv_bytes, work_bytes);
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {  // a vector longer than memory can be
  }
  return Fail(MHA_ERR_OUT_OF_MEMORY,
              Format("B=%" PRId64 ", L=%" PRId64 ": out of memory for the layer's forward",
                     batch, len));
}

namespace {

mha_status ForwardRows(mha_layer* layer, const mha_tensor* x, const mha_tensor& kv_in, bool self,
                       mha_tensor* out, const mha_layer_options& o, mha_kv_cache* cache,
                       int64_t q_bytes, int64_t kv_bytes, int64_t work_bytes) {
  const mha_layer& l = *layer;
  const int64_t batch = x->dims[0], len = x->dims[1];
  RowPlan plan;
  if (mha_status s = PlanRows(l, o, batch, len, kv_in.dims[1], self, cache, &plan)) return s;
  if (batch == 0 || len == 0) return MHA_OK;

  const bool average = o.probs && o.probs->dims[1] == 1 && l.num_heads > 1;
  if (average) {
    static const int64_t kMin[4] = {0, 1, 0, 0};
    if (mha_status s = CheckTensor("options->probs", o.probs, kMin, false)) return s;
    if (o.probs->dtype != MHA_F32 || o.probs->dims[0] != batch || o.probs->dims[2] != len ||
        o.probs->dims[3] != plan.max_keys) {
      return Invalid(Format("options->probs is %s {%" PRId64 ", 1, %" PRId64 ", %" PRId64
                            "} but the mean over heads is f32 {%" PRId64 ", 1, %" PRId64
                            ", %" PRId64 "}",
                            mha_dtype_name(o.probs->dtype), o.probs->dims[0], o.probs->dims[2],
                            o.probs->dims[3], batch, len, plan.max_keys));
    }
  }
  const int64_t full[4] = {batch, l.num_heads, len, plan.max_keys};
  if (o.probs && !average) {
    if (mha_status s = CheckProbs("options->probs", o.probs, full)) return s;
  }
  if (o.attn_mask) {
    mha_tensor normal;
    if (mha_status s = CheckBias("options->attn_mask", o.attn_mask, full, &normal)) return s;
  }
  const mha_dtype act = l.activation_dtype;
  int64_t probs_floats = 0;
  if (average && !BufferBytes(batch, l.num_heads, len, plan.max_keys, MHA_F32, &probs_floats)) {
    return WorkspaceOverflows(batch, len);
  }
  PooledBuffer work(&layer->workspaces, work_bytes);
  std::vector<float> per_head_probs;
  bool allocated = work.get() != nullptr;
  if (average && allocated) {
    try {
      per_head_probs.resize(static_cast<size_t>(probs_floats / 4));
    } catch (const std::bad_alloc&) {
      allocated = false;
    }
  }
  if (!allocated) {
    return Fail(MHA_ERR_OUT_OF_MEMORY,
                Format("could not allocate the layer's %" PRId64 "-byte workspace",
                       work_bytes + probs_floats));
  }
  unsigned char* ws = work.get();
  const mha_tensor q = ContiguousView(ws, act, batch, len, l.num_heads, l.head_dim);
  const mha_tensor heads = ContiguousView(ws + q_bytes, act, batch, len, l.num_heads, l.head_dim);
  mha_tensor k, v;
  if (cache) {
    k = cache->View(cache->k.get(), plan.max_keys);
    v = cache->View(cache->v.get(), plan.max_keys);
  } else {
    k = ContiguousView(ws + 2 * q_bytes, act, batch, kv_in.dims[1], l.num_kv_heads, l.head_dim);
    v = ContiguousView(ws + 2 * q_bytes + kv_bytes, act, batch, kv_in.dims[1], l.num_kv_heads,
             l.head_dim);
  }

  mha_linear_call q_call = LinearCallFor(*x, q);
  WithRope(l, plan, &q_call);
  mha_linear_call k_call = LinearCallFor(kv_in, k);
  WithRope(l, plan, &k_call);
  mha_linear_call v_call = LinearCallFor(kv_in, v);
  if (cache) {  // only the new tokens, each row at its own cache position
    for (mha_linear_call* c : {&k_call, &v_call}) {
      c->seq_lens = plan.queries.data();
      c->seq_offsets = plan.cached.data();
    }
  }
  if (mha_status s = RunLinear(*l.wq, q_call)) return s;
  if (mha_status s = RunLinear(*l.wk, k_call)) return s;
  if (mha_status s = RunLinear(*l.wv, v_call)) return s;

  mha_attention_desc desc = l.attention;
  desc.bias = o.attn_mask;
  desc.lse = o.lse;
  mha_tensor per_head_view;
  if (average) {
    per_head_view = ContiguousView(per_head_probs.data(), MHA_F32, batch, l.num_heads, len,
                         plan.max_keys);
    desc.probs = &per_head_view;
  } else {
    desc.probs = o.probs;
  }
  const bool row_lens = cache || o.q_lens || o.kv_lens;
  desc.q_lens = row_lens ? plan.queries.data() : nullptr;
  desc.kv_lens = row_lens ? plan.keys.data() : nullptr;
  mha_tensor heads_out = heads;
  if (mha_status s = RunAttention(l.ctx, &q, &k, &v, &heads_out, &desc)) return s;
  if (average) AverageHeads(per_head_probs, l.num_heads, o.probs);

  const mha_tensor concat =
      ContiguousView(heads.data, act, batch, len, 1, l.num_heads * l.head_dim);
  mha_linear_call o_call = LinearCallFor(concat, *out);
  o_call.seq_lens = plan.queries.data();
  if (mha_status s = RunLinear(*l.wo, o_call)) return s;
  ZeroPaddingRows(plan, out);
  if (cache) {
    for (int64_t b = 0; b < batch; ++b) cache->lengths[b] += plan.queries[b];
  }
  return MHA_OK;
}

}  // namespace
}  // namespace mha
