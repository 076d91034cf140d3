// One fuzzed mha_attention call: shapes, strides, dtypes, masks, windows, kv_lens and
// q_lens, bias broadcasts, probs and lse requests and raw values decoded from the
// input, run on the reference and on every backend, and the results compared.
#ifndef MHA_TESTS_FUZZ_ATTENTION_CASE_H_
#define MHA_TESTS_FUZZ_ATTENTION_CASE_H_

#include "fuzz_input.h"

namespace mha_fuzz {

void FuzzAttention(FuzzInput& in);

}  // namespace mha_fuzz

#endif  // MHA_TESTS_FUZZ_ATTENTION_CASE_H_
