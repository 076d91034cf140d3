// mha_layer: the whole multi-head attention layer. The core only orchestrates: the
// projections run on a backend's GEMM (mha_linear) and attention on a backend's
// attention entry; every FLOP is a backend's.
#ifndef MHA_SRC_LAYER_H_
#define MHA_SRC_LAYER_H_

#include <memory>
#include <vector>

#include "context.h"
#include "linear.h"
#include "workspace_pool.h"

struct mha_layer {
  mha_context* ctx = nullptr;
  int64_t d_model = 0, kv_d_model = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0;
  mha_dtype activation_dtype = MHA_F32;
  // The attention options fixed per layer; alibi_slopes points into `alibi`.
  mha_attention_desc attention{};
  std::vector<float> alibi;
  int rope = MHA_ROPE_NONE;
  int64_t rope_dims = 0;
  std::vector<float> rope_inv_freq;  // [rope_dims / 2]
  std::unique_ptr<mha_linear> wq, wk, wv, wo;
  mha::WorkspacePool workspaces;  // Q, K, V and the heads' outputs of a forward
};

namespace mha {

mha_status CreateLayer(mha_context* ctx, const mha_layer_desc* desc, mha_layer** out);

mha_status ForwardLayer(mha_layer* layer, const mha_tensor* x, const mha_tensor* x_kv,
                        mha_tensor* out, const mha_layer_options* options,
                        mha_kv_cache* cache);

}  // namespace mha

#endif  // MHA_SRC_LAYER_H_
