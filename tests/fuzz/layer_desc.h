// A fuzzed mha_layer_desc: shape, dtypes, attention and RoPE options, alibi slopes and
// the weights and biases in either form (packed in_proj or wq/wk/wv), now and then
// invalid, decoded from the input.
#ifndef MHA_TESTS_FUZZ_LAYER_DESC_H_
#define MHA_TESTS_FUZZ_LAYER_DESC_H_

#include <cstdint>
#include <random>
#include <vector>

#include "fuzz_input.h"
#include "mha/mha.h"

namespace mha_fuzz {

// The buffers a desc points at.
struct LayerWeights {
  std::vector<uint8_t> in_proj, wq, wk, wv, wo;
  std::vector<float> in_proj_bias, bq, bk, bv, bo, alibi;
};

// The layer's shape after the desc's defaults, or zeros where the desc is invalid.
struct LayerShape {
  int64_t d_model = 0, kv_d_model = 0, heads = 0, kv_heads = 0, head_dim = 0;
};

void DecodeLayerDesc(FuzzInput& in, std::mt19937& rng, mha_layer_desc* d, LayerWeights* w,
                     LayerShape* shape);

}  // namespace mha_fuzz

#endif  // MHA_TESTS_FUZZ_LAYER_DESC_H_
