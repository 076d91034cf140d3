// Argument checking: every public attention call is validated once, here, and turned
// into a normalised mha_problem, so backends only ever see valid problems.
#ifndef MHA_SRC_VALIDATE_H_
#define MHA_SRC_VALIDATE_H_

#include "mha/backend.h"

namespace mha {

// Checks one tensor on its own: present, known dtype, dims >= min_dims[a], non-negative
// strides, a unit stride on axis 3 when asked, and that its last byte is addressable in
// int64. `name` prefixes the message.
mha_status CheckTensor(const char* name, const mha_tensor* t, const int64_t min_dims[4],
                       bool unit_last_stride);

// Checks the options an attention desc and a layer desc share (messages name them
// desc->scale, desc->causal, ...).
mha_status CheckMaskOptions(float scale, int causal, int64_t window_left, int64_t window_right,
                            float softcap);

// Checks an additive f32 bias [B|1, H|1, Lq|1, Lk|1] against full = {B, H, Lq, Lk}; on
// success *normal is the bias at the full shape, stride 0 on its broadcast axes.
mha_status CheckBias(const char* name, const mha_tensor* bias, const int64_t full[4],
                     mha_tensor* normal);

// Checks an f32 probs output of exactly the shape full = {B, H, Lq, Lk}.
mha_status CheckProbs(const char* name, const mha_tensor* probs, const int64_t full[4]);

// Checks the arguments of mha_attention. On success fills *problem (num_threads is
// left for the caller) and returns MHA_OK; otherwise records a message that names
// the argument and its values and returns MHA_ERR_INVALID_ARGUMENT.
mha_status ValidateAttention(const mha_tensor* q, const mha_tensor* k,
                             const mha_tensor* v, mha_tensor* out,
                             const mha_attention_desc* desc, mha_problem* problem);

}  // namespace mha

#endif  // MHA_SRC_VALIDATE_H_
