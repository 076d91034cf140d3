// mha_kv_cache: K and V of one layer across decoding steps, [batch, capacity, Hkv, D]
// each (BSHD, contiguous), with a length per batch row.
#ifndef MHA_SRC_KV_CACHE_H_
#define MHA_SRC_KV_CACHE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "mha/mha.h"

struct mha_kv_cache {
  int64_t batch = 0, num_kv_heads = 0, capacity = 0, head_dim = 0;
  mha_dtype dtype = MHA_F32;
  std::unique_ptr<unsigned char[]> k, v;
  std::vector<int64_t> lengths;  // [batch]

  // The view of K or V storage that mha_attention reads, with `seq` positions.
  mha_tensor View(void* data, int64_t seq) const;
};

#endif  // MHA_SRC_KV_CACHE_H_
