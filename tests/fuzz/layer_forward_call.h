// One fuzzed mha_layer_forward: x, x_kv and out views, q_lens and kv_lens, an attention
// mask, probs (per head or their mean) and lse requests and a RoPE position offset,
// decoded from the input; and its run on one backend's layer.
#ifndef MHA_TESTS_FUZZ_LAYER_FORWARD_CALL_H_
#define MHA_TESTS_FUZZ_LAYER_FORWARD_CALL_H_

#include <cstdint>
#include <random>
#include <vector>

#include "findings.h"
#include "fuzz_input.h"
#include "layer_desc.h"
#include "mha/mha.h"
#include "strided_buffer.h"

namespace mha_fuzz {

struct LayerForward {
  int64_t batch = 0, len = 0, kv_len = 0;
  StridedBuffer x, x_kv, out, mask, probs;
  bool has_x_kv = false, has_mask = false, has_probs = false, has_lse = false;
  bool use_cache = false;
  std::vector<int32_t> q_lens, kv_lens;
  mha_layer_options options;
  std::vector<bool> x_special, x_kv_special;  // per [b, s] token
};

// What one backend produced.
struct LayerForwardResult {
  Outcome outcome;
  StridedBuffer out, probs;
  std::vector<float> lse;        // [B, Hq, L]
  std::vector<int64_t> lengths;  // the cache's, after the call
};

// ref_cache: the reference's cache (NULL: none), whose lengths size the mask and probs.
// False when a view is too large to run quickly.
bool DecodeLayerForward(FuzzInput& in, std::mt19937& rng, const LayerShape& s, bool cross,
                        const mha_kv_cache* ref_cache, int64_t cache_batch, LayerForward* f);

// cache: the backend's own (NULL: none); it is passed when f.use_cache.
LayerForwardResult RunLayerForward(mha_layer* layer, mha_kv_cache* cache, const LayerForward& f,
                                   int64_t heads, int64_t cache_batch);

}  // namespace mha_fuzz

#endif  // MHA_TESTS_FUZZ_LAYER_FORWARD_CALL_H_
