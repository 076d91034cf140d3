// The SIMD levels this CPU supports, to benchmark one CPU as several: one context per
// level, created in-process with that level as its max_isa.
#ifndef MHA_BENCH_ISA_LEVELS_H_
#define MHA_BENCH_ISA_LEVELS_H_

#include <string>
#include <vector>

#include "mha/mha.h"

namespace mha_bench {

// Supported levels, best first. When MHA_MAX_ISA is set, only that one.
std::vector<mha_isa> IsaLevels();

// A context of `backend` capped at `level`; NULL on failure, with the reason in
// mha_last_error().
mha_context* CreateContextCapped(const std::string& backend, mha_isa level);

// A context of `backend` at the best level, created as the attention rows create theirs:
// oneDNN's ISA cap is process-wide, so every onednn context must be made under the same
// cap. NULL on failure, with the reason in mha_last_error().
mha_context* CreateBestContext(const std::string& backend);

}  // namespace mha_bench

#endif  // MHA_BENCH_ISA_LEVELS_H_
