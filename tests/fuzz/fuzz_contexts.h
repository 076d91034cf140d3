// The contexts the fuzz target runs every input on, created once: the reference (the
// oracle), highway capped at each ISA level it can run here, and every other backend
// this build can load. Creating them first checks that the levels of another
// architecture (on x86: NEON, SVE, SVE2) and a value past the last level are refused.
#ifndef MHA_TESTS_FUZZ_FUZZ_CONTEXTS_H_
#define MHA_TESTS_FUZZ_FUZZ_CONTEXTS_H_

#include <string>
#include <vector>

#include "fuzz_input.h"
#include "mha/mha.h"

namespace mha_fuzz {

struct NamedContext {
  std::string name;  // backend:isa, for findings
  mha_context* ctx;
};

mha_context* ReferenceContext();

// The backends one input runs on: one highway ISA level chosen by the input, and every
// other backend; each set to the thread count the input chose.
std::vector<NamedContext> PickBackends(FuzzInput& in);

}  // namespace mha_fuzz

#endif  // MHA_TESTS_FUZZ_FUZZ_CONTEXTS_H_
