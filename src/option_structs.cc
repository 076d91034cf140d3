#include "option_structs.h"

#include "versioned.h"

namespace mha {
namespace {

mha_context_options ContextOptionsDefaults() {
  mha_context_options o{};
  o.struct_size = sizeof o;
  o.num_threads = MHA_FROM_ENVIRONMENT;
  o.max_isa = MHA_FROM_ENVIRONMENT;
  o.verbose = MHA_FROM_ENVIRONMENT;
  o.onednn_scores_budget_mb = MHA_FROM_ENVIRONMENT;
  return o;
}

mha_attention_desc AttentionDescDefaults() {
  mha_attention_desc d{};
  d.struct_size = sizeof d;
  d.window_left = -1;
  d.window_right = -1;
  return d;
}

mha_layer_desc LayerDescDefaults() {
  mha_layer_desc d{};
  d.struct_size = sizeof d;
  d.window_left = -1;
  d.window_right = -1;
  return d;
}

mha_layer_options LayerOptionsDefaults() {
  mha_layer_options o{};
  o.struct_size = sizeof o;
  return o;
}

// Reads `caller` (or the defaults for NULL) into `full`.
template <typename T>
mha_status Read(const char* name, const T* caller, const T& defaults,
                std::initializer_list<size_t> field_ends, T* full) {
  if (!caller) {
    *full = defaults;
    return MHA_OK;
  }
  return ReadVersioned(name, caller, defaults, field_ends, full);
}

}  // namespace

#define END(f) MHA_FIELD_END(T, f)

mha_status ReadContextOptions(const mha_context_options* caller, mha_context_options* full) {
  using T = mha_context_options;
  return Read("options", caller, ContextOptionsDefaults(),
              {END(backend), END(num_threads), END(max_isa), END(verbose), END(plugin_path),
               END(onednn_scores_budget_mb)},
              full);
}

mha_status ReadAttentionDesc(const mha_attention_desc* caller, mha_attention_desc* full) {
  using T = mha_attention_desc;
  return Read("desc", caller, AttentionDescDefaults(),
              {END(scale), END(causal), END(window_left), END(window_right), END(softcap),
               END(alibi_slopes), END(bias), END(kv_lens), END(probs), END(lse), END(q_lens)},
              full);
}

mha_status ReadLayerDesc(const mha_layer_desc* caller, mha_layer_desc* full) {
  using T = mha_layer_desc;
  return Read("desc", caller, LayerDescDefaults(),
              {END(d_model),      END(kv_d_model),   END(num_heads),    END(num_kv_heads),
               END(head_dim),     END(weight_dtype), END(in_proj_weight), END(wq),
               END(wk),           END(wv),           END(wo),           END(in_proj_bias),
               END(bq),           END(bk),           END(bv),           END(bo),
               END(scale),        END(causal),       END(window_left),  END(window_right),
               END(softcap),      END(alibi_slopes), END(rope),         END(rope_dims),
               END(rope_theta),   END(activation_dtype)},
              full);
}

mha_status ReadLayerOptions(const mha_layer_options* caller, mha_layer_options* full) {
  using T = mha_layer_options;
  return Read("options", caller, LayerOptionsDefaults(),
              {END(q_lens), END(kv_lens), END(attn_mask), END(probs), END(lse),
               END(position_offset)},
              full);
}

#undef END

}  // namespace mha

extern "C" {

void mha_context_options_init_size(mha_context_options* options, size_t size) {
  mha::InitVersioned(mha::ContextOptionsDefaults(), options, size);
}

void mha_attention_desc_init_size(mha_attention_desc* desc, size_t size) {
  mha::InitVersioned(mha::AttentionDescDefaults(), desc, size);
}

void mha_layer_desc_init_size(mha_layer_desc* desc, size_t size) {
  mha::InitVersioned(mha::LayerDescDefaults(), desc, size);
}

void mha_layer_options_init_size(mha_layer_options* options, size_t size) {
  mha::InitVersioned(mha::LayerOptionsDefaults(), options, size);
}

}  // extern "C"
