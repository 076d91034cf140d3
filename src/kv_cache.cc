#include "kv_cache.h"

#include <cinttypes>
#include <new>

#include "error.h"
#include "mha/kit/dtype.h"
#include "mha/kit/tensor_view.h"

mha_tensor mha_kv_cache::View(void* data, int64_t seq) const {
  mha_tensor t = mha::ContiguousView(data, dtype, batch, seq, num_kv_heads, head_dim);
  t.strides[0] = capacity * num_kv_heads * head_dim;  // rows past seq stay in between
  return t;
}

extern "C" {

mha_status mha_kv_cache_create(mha_context* ctx, int64_t batch, int64_t num_kv_heads,
                               int64_t capacity, int64_t head_dim, mha_dtype dtype,
                               mha_kv_cache** out) {
  using mha::Fail;
  using mha::Format;
  if (!out) return Fail(MHA_ERR_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  if (!ctx) return Fail(MHA_ERR_INVALID_ARGUMENT, "ctx is NULL");
  if (!mha::IsDtype(dtype)) {
    return Fail(MHA_ERR_INVALID_ARGUMENT,
                Format("dtype=%d is not a dtype (MHA_F32, MHA_BF16 or MHA_F16)",
                       mha::DtypeValue(dtype)));
  }
  int64_t bytes = 0;
  if (batch < 1 || num_kv_heads < 1 || capacity < 1 || head_dim < 1 ||
      __builtin_mul_overflow(batch, num_kv_heads, &bytes) ||
      __builtin_mul_overflow(bytes, capacity, &bytes) ||
      __builtin_mul_overflow(bytes, head_dim, &bytes) ||
      __builtin_mul_overflow(bytes, mha::DtypeSize(dtype), &bytes) || bytes > INT64_MAX / 2) {
    return Fail(MHA_ERR_INVALID_ARGUMENT,
                Format("batch=%" PRId64 ", num_kv_heads=%" PRId64 ", capacity=%" PRId64
                       ", head_dim=%" PRId64 ": each must be >= 1 and the cache's bytes "
                       "fit in int64",
                       batch, num_kv_heads, capacity, head_dim));
  }
  auto cache = std::unique_ptr<mha_kv_cache>(new (std::nothrow) mha_kv_cache);
  if (cache) {  // zeroed: positions past a row's length hold finite values
    cache->k.reset(new (std::nothrow) unsigned char[static_cast<size_t>(bytes)]());
    cache->v.reset(new (std::nothrow) unsigned char[static_cast<size_t>(bytes)]());
  }
  if (!cache || !cache->k || !cache->v) {
    return Fail(MHA_ERR_OUT_OF_MEMORY,
                Format("could not allocate a KV cache of 2 x %" PRId64 " bytes", bytes));
  }
  cache->batch = batch;
  cache->num_kv_heads = num_kv_heads;
  cache->capacity = capacity;
  cache->head_dim = head_dim;
  cache->dtype = dtype;
  cache->lengths.assign(static_cast<size_t>(batch), 0);
  *out = cache.release();
  return MHA_OK;
}

void mha_kv_cache_destroy(mha_kv_cache* cache) { delete cache; }

int64_t mha_kv_cache_length(const mha_kv_cache* cache, int64_t b) {
  if (!cache || b < 0 || b >= cache->batch) return -1;
  return cache->lengths[b];
}

void mha_kv_cache_reset(mha_kv_cache* cache) {
  if (cache) cache->lengths.assign(cache->lengths.size(), 0);
}

mha_status mha_kv_cache_truncate(mha_kv_cache* cache, int64_t b, int64_t length) {
  using mha::Fail;
  using mha::Format;
  if (!cache) return Fail(MHA_ERR_INVALID_ARGUMENT, "cache is NULL");
  if (b < 0 || b >= cache->batch) {
    return Fail(MHA_ERR_INVALID_ARGUMENT,
                Format("b=%" PRId64 " must be in [0, %" PRId64 ") (the cache's batch)", b,
                       cache->batch));
  }
  if (length < 0 || length > cache->lengths[b]) {
    return Fail(MHA_ERR_INVALID_ARGUMENT,
                Format("length=%" PRId64 " must be in [0, %" PRId64 "] (row %" PRId64
                       "'s cached tokens)", length, cache->lengths[b], b));
  }
  cache->lengths[b] = length;
  return MHA_OK;
}

mha_status mha_kv_cache_views(const mha_kv_cache* cache, mha_tensor* k, mha_tensor* v) {
  if (!cache) return mha::Fail(MHA_ERR_INVALID_ARGUMENT, "cache is NULL");
  if (k) *k = cache->View(cache->k.get(), cache->capacity);
  if (v) *v = cache->View(cache->v.get(), cache->capacity);
  return MHA_OK;
}

}  // extern "C"
