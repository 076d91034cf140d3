// Calls that pass an enum by value holding any int, as C callers may: made from C, since
// in C++ merely loading such a value is undefined.
#ifndef MHA_TESTS_FUZZ_C_CALLS_H_
#define MHA_TESTS_FUZZ_C_CALLS_H_

#include "mha/mha.h"

#ifdef __cplusplus
extern "C" {
#endif

mha_status FuzzKvCacheCreate(mha_context* ctx, int64_t batch, int64_t num_kv_heads,
                             int64_t capacity, int64_t head_dim, int dtype, mha_kv_cache** out);

mha_status FuzzLinearCreate(mha_context* ctx, int64_t out_features, int64_t in_features,
                            int weight_dtype, const void* weight, const float* bias,
                            mha_linear** out);

#ifdef __cplusplus
}
#endif

#endif  // MHA_TESTS_FUZZ_C_CALLS_H_
