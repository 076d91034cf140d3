// Attention from oneDNN primitives, one chunk of queries at a time:
//   scores = scale * Q K^T (softcap fused as eltwise post-ops)   matmul
//   masks, bias, ALiBi on the chunk                              MaskScores
//   probs  = softmax(scores)                                     softmax
//   forbidden rows, lse, probs out                               FinishRows
//   out    = probs V, written straight into the strided out      matmul
// All query heads of one batch entry go through each primitive at once; K and V are
// viewed per kv head with a broadcast batch axis, so GQA never copies heads.
#ifndef MHA_BACKENDS_ONEDNN_ATTENTION_RUNNER_H_
#define MHA_BACKENDS_ONEDNN_ATTENTION_RUNNER_H_

#include <cstddef>
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

#include "mha/backend.h"
#include "primitive_cache.h"
#include "workspace.h"

namespace mha {
namespace onednn {

// What one backend instance keeps across calls.
struct EngineState {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  bool fast_bf16 = false;  // oneDNN has a native bf16 matmul (brgemm) on this CPU
  size_t scores_budget = size_t{64} << 20;
  PrimitiveCache primitives;
  WorkspacePool workspaces;
};

// Runs a validated problem. Throws dnnl::error or std::bad_alloc; on success
// *impl names the implementations that ran (e.g. "brg:avx512_core_bf16").
void RunAttention(EngineState& state, const mha_problem& p, std::string* impl);

}  // namespace onednn
}  // namespace mha

#endif  // MHA_BACKENDS_ONEDNN_ATTENTION_RUNNER_H_
