// The oneDNN backend's GEMM for the layer's projections: y = x W^T + bias as a oneDNN
// matmul on weights reordered once into the format oneDNN picks, then one epilogue
// pass (RoPE, dtype conversion, the strided store; linear_rows.h).
//
// Weights: f32 as they are; bf16 natively where oneDNN's bf16 matmul is brgemm (x is
// then rounded to bf16, products accumulate in f32), widened to f32 elsewhere; f16
// widened to f32 at create (exact: oneDNN 2.6 has no CPU f16 matmul to rely on).
#ifndef MHA_BACKENDS_ONEDNN_LINEAR_H_
#define MHA_BACKENDS_ONEDNN_LINEAR_H_

#include "attention_runner.h"
#include "mha/backend.h"

namespace mha {
namespace onednn {

// Pack and run throw dnnl::error or std::bad_alloc; the table turns them into statuses.
mha_status LinearCreate(EngineState& state, const mha_linear_desc& desc, void** linear);
void LinearDestroy(void* linear);
mha_status LinearForward(EngineState& state, const void* linear, const mha_linear_call& call,
                         mha_backend_report* report);

}  // namespace onednn
}  // namespace mha

#endif  // MHA_BACKENDS_ONEDNN_LINEAR_H_
