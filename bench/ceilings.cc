#include "ceilings.h"

#include <omp.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "ceilings_hwy.h"
#include "memory.h"

namespace mha_bench {
namespace {

constexpr int kTries = 10;  // best of many: other processes may share the cores
constexpr size_t kReadBytes = size_t{512} << 20;  // far beyond any LLC

// Kernel results land here so that the compiler cannot drop the work.
volatile float g_sinks[256];

double Now() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// Runs body(thread) on `threads` threads at once; returns the best wall time of kTries.
template <typename Body>
double BestParallelSeconds(int threads, const Body& body) {
  double best = 1e30;
  for (int t = 0; t < kTries; ++t) {
    double start = 0;
    double stop = 0;
#pragma omp parallel num_threads(threads)
    {
#pragma omp barrier
#pragma omp single
      start = Now();
      body(omp_get_thread_num());
#pragma omp barrier
#pragma omp single
      stop = Now();
    }
    best = std::min(best, stop - start);
  }
  return best;
}

#if defined(__x86_64__)
// 16 chains of vdpbf16ps (32 zmm registers): each instruction is 32 bf16 pairs = 64 FLOPs.
__attribute__((target("avx512f,avx512bf16,avx512vl"))) double Bf16DotKernel(
    int64_t rounds, float* sink) {
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (int64_t r = 0; r < rounds; ++r) {
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < 16; ++i) sum = _mm512_add_ps(sum, acc[i]);
  float lanes[16];
  _mm512_storeu_ps(lanes, sum);
  *sink = lanes[0] + lanes[15];
  return 64.0 * 16.0 * static_cast<double>(rounds);
}
#endif

double FmaGflops(int threads) {
  constexpr int64_t kRounds = 8 << 20;
  double flops = 0;
  const double seconds = BestParallelSeconds(threads, [&](int t) {
    float sink = 0;
    const double f = FmaKernel(kRounds, &sink);
    g_sinks[t % 256] = sink;
    if (t == 0) flops = f;
  });
  return flops * threads / seconds * 1e-9;
}

double Bf16Gflops(int threads) {
#if !defined(__x86_64__)
  (void)threads;  // vdpbf16ps is x86 only
  return 0;
#else
  if (!__builtin_cpu_supports("avx512bf16")) return 0;
  constexpr int64_t kRounds = 4 << 20;
  const double seconds = BestParallelSeconds(threads, [&](int t) {
    float sink = 0;
    Bf16DotKernel(kRounds, &sink);
    g_sinks[t % 256] = sink;
  });
  return 64.0 * 16.0 * kRounds * threads / seconds * 1e-9;
#endif
}

double ReadGbs(int threads) {
  static Buffer buffer = AllocateTouched(kReadBytes);
  const float* data = reinterpret_cast<const float*>(buffer.get());
  const size_t n = kReadBytes / sizeof(float);
  const size_t slice = n / threads;
  const double seconds = BestParallelSeconds(threads, [&](int t) {
    g_sinks[t % 256] = ReadKernel(data + t * slice, slice);
  });
  return static_cast<double>(slice * threads * sizeof(float)) / seconds * 1e-9;
}

}  // namespace

Ceilings MeasureCeilings(int threads) {
  Ceilings c;
  c.threads = threads;
  c.fma_f32_gflops = FmaGflops(threads);
  c.dot_bf16_gflops = Bf16Gflops(threads);
  c.read_gbs = ReadGbs(threads);
  return c;
}

const char* CeilingTarget() { return CeilingTargetName(); }

}  // namespace mha_bench
