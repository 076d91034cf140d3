// The dtype decisions of the layer and linear cases: mostly f32, bf16 and f16, now and
// then a value that is no dtype (which every call must reject).
#ifndef MHA_TESTS_FUZZ_DTYPE_CHOICE_H_
#define MHA_TESTS_FUZZ_DTYPE_CHOICE_H_

#include "fuzz_input.h"
#include "mha/mha.h"

namespace mha_fuzz {

inline int DecodeDtype(FuzzInput& in) {
  if (in.Chance(2)) return 7;
  static const int kDtypes[4] = {MHA_F32, MHA_F32, MHA_BF16, MHA_F16};
  return in.Pick(kDtypes);
}

}  // namespace mha_fuzz

#endif  // MHA_TESTS_FUZZ_DTYPE_CHOICE_H_
