#include "c_calls.h"

mha_status FuzzKvCacheCreate(mha_context* ctx, int64_t batch, int64_t num_kv_heads,
                             int64_t capacity, int64_t head_dim, int dtype, mha_kv_cache** out) {
  return mha_kv_cache_create(ctx, batch, num_kv_heads, capacity, head_dim, (mha_dtype)dtype, out);
}

mha_status FuzzLinearCreate(mha_context* ctx, int64_t out_features, int64_t in_features,
                            int weight_dtype, const void* weight, const float* bias,
                            mha_linear** out) {
  return mha_linear_create(ctx, out_features, in_features, (mha_dtype)weight_dtype, weight, bias,
                           out);
}
