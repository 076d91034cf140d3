// The reference backend's GEMM: y = x W^T + bias in double, then RoPE, per row.
#ifndef MHA_BACKENDS_REFERENCE_REFERENCE_LINEAR_H_
#define MHA_BACKENDS_REFERENCE_REFERENCE_LINEAR_H_

#include "mha/backend.h"

namespace mha {

mha_status ReferenceLinearCreate(void* instance, const mha_linear_desc* desc, void** linear,
                                 mha_backend_report* report);
void ReferenceLinearDestroy(void* instance, void* linear);
mha_status ReferenceLinearForward(void* instance, const void* linear,
                                  const mha_linear_call* call, mha_backend_report* report);

}  // namespace mha

#endif  // MHA_BACKENDS_REFERENCE_REFERENCE_LINEAR_H_
