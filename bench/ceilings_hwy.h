// Highway kernels of the machine-ceiling microbenchmarks, dispatched to the best
// target this CPU supports.
#ifndef MHA_BENCH_CEILINGS_HWY_H_
#define MHA_BENCH_CEILINGS_HWY_H_

#include <cstddef>
#include <cstdint>

namespace mha_bench {

// Runs `rounds` rounds of independent f32 FMAs; returns the FLOPs done and writes a
// value derived from the accumulators to *sink so nothing is optimised away.
double FmaKernel(int64_t rounds, float* sink);

// Sums n floats with wide loads; returns the sum.
float ReadKernel(const float* data, size_t n);

// The name of the Highway target the kernels above dispatch to, e.g. "AVX3".
const char* CeilingTargetName();

}  // namespace mha_bench

#endif  // MHA_BENCH_CEILINGS_HWY_H_
