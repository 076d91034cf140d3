// mha_bench's own flags, and the benchmark groups that main registers after the
// machine's ceilings are measured: attention (mha_bench.cc), the linear layers' GEMM
// (linear_bench.cc) and the whole layer (layer_bench.cc).
#ifndef MHA_BENCH_BENCH_OPTIONS_H_
#define MHA_BENCH_BENCH_OPTIONS_H_

#include <map>

#include "ceilings.h"

namespace mha_bench {

struct Options {
  bool quick = false;   // the small CI shapes and short timings
  bool verify = false;  // compare each row's first output with the reference backend's
};

// `ceilings` holds one entry per thread count to run.
void RegisterLinearBenchmarks(const Options& options, const std::map<int, Ceilings>& ceilings);
void RegisterLayerBenchmarks(const Options& options, const std::map<int, Ceilings>& ceilings);

}  // namespace mha_bench

#endif  // MHA_BENCH_BENCH_OPTIONS_H_
