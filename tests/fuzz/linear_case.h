// One fuzzed mha_linear: out_features (as heads x head_dim) and in_features, the
// weight's dtype and an optional bias, now and then invalid, created on the reference
// and on every backend; then a few forwards over strided x and y views of any dtype,
// batch, length and head split, each result compared with a double-precision product
// of the stored values.
#ifndef MHA_TESTS_FUZZ_LINEAR_CASE_H_
#define MHA_TESTS_FUZZ_LINEAR_CASE_H_

#include "fuzz_input.h"

namespace mha_fuzz {

void FuzzLinear(FuzzInput& in);

}  // namespace mha_fuzz

#endif  // MHA_TESTS_FUZZ_LINEAR_CASE_H_
