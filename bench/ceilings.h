// The machine's ceilings, measured in the same run as the attention benchmarks so that
// every figure can be given as a fraction of what this CPU can do.
#ifndef MHA_BENCH_CEILINGS_H_
#define MHA_BENCH_CEILINGS_H_

namespace mha_bench {

struct Ceilings {
  int threads = 1;
  double fma_f32_gflops = 0;  // Highway MulAdd, best target, all accumulators busy
  double dot_bf16_gflops = 0; // vdpbf16ps; 0 where the CPU lacks AVX512_BF16
  double read_gbs = 0;        // streaming reads of a buffer far larger than the LLC
};

// Measures the ceilings with `threads` OpenMP threads (each the best of a few tries).
Ceilings MeasureCeilings(int threads);

// The Highway target of the FMA and read kernels, e.g. "AVX3".
const char* CeilingTarget();

}  // namespace mha_bench

#endif  // MHA_BENCH_CEILINGS_H_
