// One fuzzed layer: its desc decoded from the input, created on the reference and on
// every backend, then a sequence of forwards (with and without a KV cache, padding,
// masks, probs and lse), cache truncations and resets, each compared.
#ifndef MHA_TESTS_FUZZ_LAYER_CASE_H_
#define MHA_TESTS_FUZZ_LAYER_CASE_H_

#include "fuzz_input.h"

namespace mha_fuzz {

void FuzzLayer(FuzzInput& in);

}  // namespace mha_fuzz

#endif  // MHA_TESTS_FUZZ_LAYER_CASE_H_
