// mha: header-only C++ wrapper over the C API of mha.h.
// RAII contexts, tensor views from pointers and shapes, and mha::Error exceptions
// carrying the status and the message. Exceptions exist only in this wrapper.
#ifndef MHA_MHA_HPP_
#define MHA_MHA_HPP_

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mha/mha.h"

namespace mha {

class Error : public std::runtime_error {
 public:
  Error(mha_status status, const std::string& message)
      : std::runtime_error(std::string(mha_status_name(status)) + ": " + message),
        status_(status) {}
  mha_status status() const noexcept { return status_; }

 private:
  mha_status status_;
};

// Throws mha::Error with mha_last_error() unless status is MHA_OK.
inline void Check(mha_status status) {
  if (status != MHA_OK) throw Error(status, mha_last_error());
}

// A non-owning view of a 4-D tensor; converts to mha_tensor.
struct Tensor {
  mha_tensor view{};

  Tensor() = default;
  Tensor(void* data, mha_dtype dtype, const int64_t dims[4], const int64_t strides[4]) {
    view.data = data;
    view.dtype = dtype;
    for (int a = 0; a < 4; ++a) {
      view.dims[a] = dims[a];
      view.strides[a] = strides[a];
    }
  }

  // [batch, seq, heads, head_dim] stored contiguously in that order (BSHD).
  static Tensor Bshd(void* data, mha_dtype dtype, int64_t batch, int64_t seq_len,
                     int64_t num_heads, int64_t head_dim) {
    const int64_t dims[4] = {batch, seq_len, num_heads, head_dim};
    const int64_t strides[4] = {seq_len * num_heads * head_dim, num_heads * head_dim,
                                head_dim, 1};
    return Tensor(data, dtype, dims, strides);
  }

  // The same logical axes stored as [batch, heads, seq, head_dim] (BHSD).
  static Tensor Bhsd(void* data, mha_dtype dtype, int64_t batch, int64_t num_heads,
                     int64_t seq_len, int64_t head_dim) {
    const int64_t dims[4] = {batch, seq_len, num_heads, head_dim};
    const int64_t strides[4] = {num_heads * seq_len * head_dim, head_dim,
                                seq_len * head_dim, 1};
    return Tensor(data, dtype, dims, strides);
  }

  // [batch, heads, q_seq, kv_seq] contiguous: bias and probs.
  static Tensor Scores(float* data, int64_t batch, int64_t num_heads, int64_t q_len,
                       int64_t kv_len) {
    const int64_t dims[4] = {batch, num_heads, q_len, kv_len};
    const int64_t strides[4] = {num_heads * q_len * kv_len, q_len * kv_len, kv_len, 1};
    return Tensor(data, MHA_F32, dims, strides);
  }

  const mha_tensor* get() const { return &view; }
  mha_tensor* get() { return &view; }
};

// Options of one call, with the defaults of mha_attention_desc_init().
struct AttentionOptions {
  mha_attention_desc desc;
  Tensor bias, probs;  // kept here so that desc can point at them

  AttentionOptions() { mha_attention_desc_init(&desc); }
  AttentionOptions(const AttentionOptions& other) : desc(other.desc), bias(other.bias),
                                                    probs(other.probs) { Repoint(other); }
  AttentionOptions& operator=(const AttentionOptions& other) {
    desc = other.desc;
    bias = other.bias;
    probs = other.probs;
    Repoint(other);
    return *this;
  }

  AttentionOptions& Scale(float s) { desc.scale = s; return *this; }
  AttentionOptions& Causal(bool on = true) { desc.causal = on ? 1 : 0; return *this; }
  AttentionOptions& Window(int64_t left, int64_t right) {
    desc.window_left = left;
    desc.window_right = right;
    return *this;
  }
  AttentionOptions& Softcap(float c) { desc.softcap = c; return *this; }
  AttentionOptions& AlibiSlopes(const float* slopes) { desc.alibi_slopes = slopes; return *this; }
  AttentionOptions& KvLens(const int32_t* lens) { desc.kv_lens = lens; return *this; }
  AttentionOptions& Bias(const Tensor& t) { bias = t; desc.bias = bias.get(); return *this; }
  AttentionOptions& Probs(const Tensor& t) { probs = t; desc.probs = probs.get(); return *this; }
  AttentionOptions& Lse(float* lse) { desc.lse = lse; return *this; }

 private:
  void Repoint(const AttentionOptions& other) {
    desc.bias = other.desc.bias ? bias.get() : nullptr;
    desc.probs = other.desc.probs ? probs.get() : nullptr;
  }
};

// Settings of a new context; those not set here come from the environment.
class ContextOptions {
 public:
  ContextOptions() { mha_context_options_init(&options_); }
  ContextOptions(const ContextOptions& other) { *this = other; }
  ContextOptions& operator=(const ContextOptions& other) {
    options_ = other.options_;
    backend_ = other.backend_;
    plugin_path_ = other.plugin_path_;
    options_.backend = other.options_.backend ? backend_.c_str() : nullptr;
    options_.plugin_path = other.options_.plugin_path ? plugin_path_.c_str() : nullptr;
    return *this;
  }

  ContextOptions& Backend(const std::string& name) {
    backend_ = name;
    options_.backend = backend_.c_str();
    return *this;
  }
  ContextOptions& NumThreads(int n) { options_.num_threads = n; return *this; }
  ContextOptions& MaxIsa(mha_isa isa) { options_.max_isa = isa; return *this; }
  ContextOptions& Verbose(int level) { options_.verbose = level; return *this; }
  ContextOptions& PluginPath(const std::string& dirs) {
    plugin_path_ = dirs;
    options_.plugin_path = plugin_path_.c_str();
    return *this;
  }
  ContextOptions& OnednnScoresBudgetMb(int64_t mb) {
    options_.onednn_scores_budget_mb = mb;
    return *this;
  }

  const mha_context_options* get() const { return &options_; }

 private:
  mha_context_options options_;
  std::string backend_, plugin_path_;
};

// Owns an mha_context. Movable, not copyable; safe to share across threads.
class Context {
 public:
  // backend: a name, "auto", a comma list, or empty to read MHA_BACKEND.
  explicit Context(const std::string& backend = "") {
    Check(mha_context_create(backend.empty() ? nullptr : backend.c_str(), &ctx_));
  }
  explicit Context(const ContextOptions& options) {
    Check(mha_context_create_with(options.get(), &ctx_));
  }
  ~Context() { mha_context_destroy(ctx_); }
  Context(Context&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}
  Context& operator=(Context&& other) noexcept {
    std::swap(ctx_, other.ctx_);
    return *this;
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  std::string backend() const { return mha_context_backend(ctx_); }
  std::string isa() const { return mha_context_isa(ctx_); }
  void SetNumThreads(int n) { Check(mha_context_set_num_threads(ctx_, n)); }

  void Attention(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& out,
                 const AttentionOptions& options = AttentionOptions()) {
    Check(mha_attention(ctx_, q.get(), k.get(), v.get(), out.get(), &options.desc));
  }

  mha_context* get() const { return ctx_; }

 private:
  mha_context* ctx_ = nullptr;
};

// [batch, seq, features] contiguous as the 4-D view the layer takes: {B, L, 1, F}.
inline Tensor Rows(void* data, mha_dtype dtype, int64_t batch, int64_t seq_len,
                   int64_t features) {
  const int64_t dims[4] = {batch, seq_len, 1, features};
  const int64_t strides[4] = {seq_len * features, features, features, 1};
  return Tensor(data, dtype, dims, strides);
}

// Owns an mha_kv_cache: K and V of one layer across decoding steps.
class KvCache {
 public:
  KvCache(const Context& ctx, int64_t batch, int64_t num_kv_heads, int64_t capacity,
          int64_t head_dim, mha_dtype dtype) {
    Check(mha_kv_cache_create(ctx.get(), batch, num_kv_heads, capacity, head_dim, dtype,
                              &cache_));
  }
  ~KvCache() { mha_kv_cache_destroy(cache_); }
  KvCache(KvCache&& other) noexcept : cache_(std::exchange(other.cache_, nullptr)) {}
  KvCache& operator=(KvCache&& other) noexcept {
    std::swap(cache_, other.cache_);
    return *this;
  }
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int64_t length(int64_t b) const { return mha_kv_cache_length(cache_, b); }
  void Reset() { mha_kv_cache_reset(cache_); }
  void Truncate(int64_t b, int64_t length) { Check(mha_kv_cache_truncate(cache_, b, length)); }

  mha_kv_cache* get() const { return cache_; }

 private:
  mha_kv_cache* cache_ = nullptr;
};

// Per-call options of Layer::Forward, with the defaults of mha_layer_options_init().
struct LayerOptions {
  mha_layer_options options;
  Tensor attn_mask, probs;  // kept here so that options can point at them

  LayerOptions() { mha_layer_options_init(&options); }
  LayerOptions(const LayerOptions& other) { *this = other; }
  LayerOptions& operator=(const LayerOptions& other) {
    options = other.options;
    attn_mask = other.attn_mask;
    probs = other.probs;
    options.attn_mask = other.options.attn_mask ? attn_mask.get() : nullptr;
    options.probs = other.options.probs ? probs.get() : nullptr;
    return *this;
  }

  LayerOptions& QLens(const int32_t* lens) { options.q_lens = lens; return *this; }
  LayerOptions& KvLens(const int32_t* lens) { options.kv_lens = lens; return *this; }
  LayerOptions& AttnMask(const Tensor& t) {
    attn_mask = t;
    options.attn_mask = attn_mask.get();
    return *this;
  }
  LayerOptions& Probs(const Tensor& t) { probs = t; options.probs = probs.get(); return *this; }
  LayerOptions& Lse(float* lse) { options.lse = lse; return *this; }
  LayerOptions& PositionOffset(int64_t p) { options.position_offset = p; return *this; }
};

// Owns an mha_layer: projections, attention and output projection, weights packed at
// construction. Movable, not copyable; Forward may run on several threads at once.
class Layer {
 public:
  Layer(const Context& ctx, const mha_layer_desc& desc) {
    Check(mha_layer_create(ctx.get(), &desc, &layer_));
  }
  ~Layer() { mha_layer_destroy(layer_); }
  Layer(Layer&& other) noexcept : layer_(std::exchange(other.layer_, nullptr)) {}
  Layer& operator=(Layer&& other) noexcept {
    std::swap(layer_, other.layer_);
    return *this;
  }
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  // Self-attention, optionally through a KV cache.
  void Forward(const Tensor& x, Tensor& out, const LayerOptions& options = LayerOptions(),
               KvCache* cache = nullptr) {
    Check(mha_layer_forward(layer_, x.get(), nullptr, out.get(), &options.options,
                            cache ? cache->get() : nullptr));
  }
  // Cross-attention: keys and values from x_kv.
  void Forward(const Tensor& x, const Tensor& x_kv, Tensor& out,
               const LayerOptions& options = LayerOptions()) {
    Check(mha_layer_forward(layer_, x.get(), x_kv.get(), out.get(), &options.options, nullptr));
  }

  mha_layer* get() const { return layer_; }

 private:
  mha_layer* layer_ = nullptr;
};

// The names of every backend this build can find.
inline std::vector<std::string> BackendNames() {
  std::vector<std::string> names;
  for (int i = 0, n = mha_backend_count(); i < n; ++i) names.emplace_back(mha_backend_name(i));
  return names;
}

inline bool BackendAvailable(const std::string& name) {
  return mha_backend_available(name.c_str()) != 0;
}

// The version a backend reports about itself; throws mha::Error when it is not available.
inline std::string BackendVersion(const std::string& name) {
  const char* version = mha_backend_version(name.c_str());
  if (!version) throw Error(MHA_ERR_BACKEND_UNAVAILABLE, mha_last_error());
  return version;
}

}  // namespace mha

#endif  // MHA_MHA_HPP_
