// Argument checking: every public attention call is validated once, here, and turned
// into a normalised mha_problem, so backends only ever see valid problems.
#ifndef MHA_SRC_VALIDATE_H_
#define MHA_SRC_VALIDATE_H_

#include "mha/backend.h"

namespace mha {

// Checks the arguments of mha_attention. On success fills *problem (num_threads is
// left for the caller) and returns MHA_OK; otherwise records a message that names
// the argument and its values and returns MHA_ERR_INVALID_ARGUMENT.
mha_status ValidateAttention(const mha_tensor* q, const mha_tensor* k,
                             const mha_tensor* v, mha_tensor* out,
                             const mha_attention_desc* desc, mha_problem* problem);

}  // namespace mha

#endif  // MHA_SRC_VALIDATE_H_
