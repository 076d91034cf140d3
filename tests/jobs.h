// Self-contained calls for the tests that run the same work many times over (threads,
// determinism, soak): an attention call, a layer's prefill and decode steps, and a
// linear layer, each with its inputs made from a seed and a Run() that returns every
// output as floats. No test framework inside, so that any program can use them.
#ifndef MHA_TESTS_JOBS_H_
#define MHA_TESTS_JOBS_H_

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "mha/kit/dtype.h"
#include "mha/mha.h"

namespace mha_test {

// Values in a dtype, in a vector of bytes.
class TypedBuffer {
 public:
  TypedBuffer(size_t n, mha_dtype dtype, std::mt19937_64& rng, float magnitude = 1.0f)
      : dtype_(dtype), bytes_(n * static_cast<size_t>(mha::DtypeSize(dtype))) {
    std::uniform_real_distribution<float> dist(-magnitude, magnitude);
    for (size_t i = 0; i < n; ++i) mha::StoreFromF32(bytes_.data(), dtype, int64_t(i), dist(rng));
  }
  void* data() { return bytes_.data(); }
  const void* data() const { return bytes_.data(); }
  mha_dtype dtype() const { return dtype_; }

 private:
  mha_dtype dtype_;
  std::vector<uint8_t> bytes_;
};

struct AttentionShape {
  int64_t batch = 1, num_heads = 4, num_kv_heads = 2, q_len = 16, kv_len = 16, head_dim = 32;
  mha_dtype dtype = MHA_F32;  // of Q, K and V; out is f32
  bool causal = false;
  bool kv_lens = false;  // row b attends kv_len - b keys
  bool probs = false, lse = false;
};

class AttentionJob {
 public:
  AttentionJob(const AttentionShape& s, uint64_t seed)
      : s_(s),
        rng_(seed),
        q_(size_t(s.batch * s.q_len * s.num_heads * s.head_dim), s.dtype, rng_),
        k_(size_t(s.batch * s.kv_len * s.num_kv_heads * s.head_dim), s.dtype, rng_),
        v_(size_t(s.batch * s.kv_len * s.num_kv_heads * s.head_dim), s.dtype, rng_) {
    for (int64_t b = 0; b < s.batch; ++b) {
      kv_lens_.push_back(static_cast<int32_t>(std::max<int64_t>(0, s.kv_len - b)));
    }
  }

  // out, then probs and lse when asked, as floats.
  mha_status Run(mha_context* ctx, std::vector<float>* result) const {
    const AttentionShape& s = s_;
    const int64_t out_size = s.batch * s.q_len * s.num_heads * s.head_dim;
    const int64_t scores = s.batch * s.num_heads * s.q_len * s.kv_len;
    const int64_t rows = s.batch * s.num_heads * s.q_len;
    result->assign(size_t(out_size + (s.probs ? scores : 0) + (s.lse ? rows : 0)), 0.0f);
    float* out = result->data();
    mha_tensor q = Bshd(const_cast<void*>(q_.data()), s.dtype, s.q_len, s.num_heads);
    mha_tensor k = Bshd(const_cast<void*>(k_.data()), s.dtype, s.kv_len, s.num_kv_heads);
    mha_tensor v = Bshd(const_cast<void*>(v_.data()), s.dtype, s.kv_len, s.num_kv_heads);
    mha_tensor o = Bshd(out, MHA_F32, s.q_len, s.num_heads);
    mha_tensor probs = {out + out_size,
                        MHA_F32,
                        {s.batch, s.num_heads, s.q_len, s.kv_len},
                        {s.num_heads * s.q_len * s.kv_len, s.q_len * s.kv_len, s.kv_len, 1}};
    mha_attention_desc desc;
    mha_attention_desc_init(&desc);
    desc.causal = s.causal;
    if (s.kv_lens) desc.kv_lens = kv_lens_.data();
    if (s.probs) desc.probs = &probs;
    if (s.lse) desc.lse = out + out_size + (s.probs ? scores : 0);
    return mha_attention(ctx, &q, &k, &v, &o, &desc);
  }

  const AttentionShape& shape() const { return s_; }

 private:
  mha_tensor Bshd(void* data, mha_dtype dtype, int64_t len, int64_t heads) const {
    const int64_t d = s_.head_dim;
    return {data, dtype, {s_.batch, len, heads, d}, {len * heads * d, heads * d, d, 1}};
  }

  AttentionShape s_;
  std::mt19937_64 rng_;
  TypedBuffer q_, k_, v_;
  std::vector<int32_t> kv_lens_;
};

struct LayerShape {
  int64_t d_model = 64, num_heads = 4, num_kv_heads = 2;
  mha_dtype weight_dtype = MHA_F32;
  int64_t batch = 2, prompt = 12, steps = 3;  // a prefill, then single-token steps
};

// A causal RoPE layer's weights; Run() creates the layer on a context, or Forward()
// runs on a layer that already exists (one per context), each with its own KV cache.
class LayerJob {
 public:
  LayerJob(const LayerShape& s, uint64_t seed)
      : s_(s),
        rng_(seed),
        head_dim_(s.d_model / s.num_heads),
        in_proj_(size_t((s.num_heads + 2 * s.num_kv_heads) * head_dim_ * s.d_model), s.weight_dtype,
                 rng_, 0.125f),
        wo_(size_t(s.d_model * s.num_heads * head_dim_), s.weight_dtype, rng_, 0.125f),
        x_(size_t(s.batch * (s.prompt + s.steps) * s.d_model), MHA_F32, rng_) {}

  mha_status Create(mha_context* ctx, mha_layer** layer) const {
    mha_layer_desc d;
    mha_layer_desc_init(&d);
    d.d_model = s_.d_model;
    d.num_heads = s_.num_heads;
    d.num_kv_heads = s_.num_kv_heads;
    d.weight_dtype = s_.weight_dtype;
    d.in_proj_weight = in_proj_.data();
    d.wo = wo_.data();
    d.causal = 1;
    d.rope = MHA_ROPE_NEOX;
    return mha_layer_create(ctx, &d, layer);
  }

  // The prefill's and every step's outputs, as floats.
  mha_status Forward(mha_context* ctx, mha_layer* layer, std::vector<float>* result) const {
    const int64_t total = s_.prompt + s_.steps;
    mha_kv_cache* cache = nullptr;
    mha_status s =
        mha_kv_cache_create(ctx, s_.batch, s_.num_kv_heads, total, head_dim_, MHA_F32, &cache);
    result->assign(size_t(s_.batch * total * s_.d_model), 0.0f);
    for (int64_t at = 0; s == MHA_OK && at < total; at += at == 0 ? s_.prompt : 1) {
      const int64_t len = at == 0 ? s_.prompt : 1;
      // Rows of x and of result for tokens [at, at + len) of every batch row.
      const int64_t row_stride = total * s_.d_model;
      mha_tensor x = {const_cast<void*>(x_.data()),
                      MHA_F32,
                      {s_.batch, len, 1, s_.d_model},
                      {row_stride, s_.d_model, s_.d_model, 1}};
      x.data = static_cast<float*>(x.data) + at * s_.d_model;
      mha_tensor out = x;
      out.data = result->data() + at * s_.d_model;
      s = mha_layer_forward(layer, &x, nullptr, &out, nullptr, cache);
    }
    mha_kv_cache_destroy(cache);
    return s;
  }

  mha_status Run(mha_context* ctx, std::vector<float>* result) const {
    mha_layer* layer = nullptr;
    mha_status s = Create(ctx, &layer);
    if (s == MHA_OK) s = Forward(ctx, layer, result);
    mha_layer_destroy(layer);
    return s;
  }

 private:
  LayerShape s_;
  std::mt19937_64 rng_;
  int64_t head_dim_;
  TypedBuffer in_proj_, wo_, x_;
};

struct LinearShape {
  int64_t batch = 2, len = 37, in_features = 96, out_features = 80;
  mha_dtype weight_dtype = MHA_F32;
};

class LinearJob {
 public:
  LinearJob(const LinearShape& s, uint64_t seed)
      : s_(s),
        rng_(seed),
        w_(size_t(s.out_features * s.in_features), s.weight_dtype, rng_, 0.1f),
        x_(size_t(s.batch * s.len * s.in_features), MHA_F32, rng_) {
    std::uniform_real_distribution<float> dist(-1, 1);
    for (int64_t n = 0; n < s.out_features; ++n) bias_.push_back(dist(rng_));
  }

  mha_status Create(mha_context* ctx, mha_linear** linear) const {
    return mha_linear_create(ctx, s_.out_features, s_.in_features, s_.weight_dtype, w_.data(),
                             bias_.data(), linear);
  }

  mha_status Forward(mha_linear* linear, std::vector<float>* result) const {
    result->assign(size_t(s_.batch * s_.len * s_.out_features), 0.0f);
    const mha_tensor x = {const_cast<void*>(x_.data()),
                          MHA_F32,
                          {s_.batch, s_.len, 1, s_.in_features},
                          {s_.len * s_.in_features, s_.in_features, s_.in_features, 1}};
    mha_tensor y = {result->data(),
                    MHA_F32,
                    {s_.batch, s_.len, 1, s_.out_features},
                    {s_.len * s_.out_features, s_.out_features, s_.out_features, 1}};
    return mha_linear_forward(linear, &x, &y);
  }

  mha_status Run(mha_context* ctx, std::vector<float>* result) const {
    mha_linear* linear = nullptr;
    mha_status s = Create(ctx, &linear);
    if (s == MHA_OK) s = Forward(linear, result);
    mha_linear_destroy(linear);
    return s;
  }

 private:
  LinearShape s_;
  std::mt19937_64 rng_;
  TypedBuffer w_, x_;
  std::vector<float> bias_;
};

}  // namespace mha_test

#endif  // MHA_TESTS_JOBS_H_
