// The linear layers' GEMM in mha_bench: y = x W^T on each backend with a GEMM, for the
// projection shapes of the attention shapes, beside the machine's ceilings.
//
// Names are <backend>/<isa>/linear-<shape>/<precision>/threads:<n>; precision f32 is
// x, W and y in f32, bf16 is all three in bf16. Counters: GFLOP/s (2 M N K per call),
// pct_fma_peak (of the measured f32 FMA peak), pct_dot_peak for bf16 (of the measured
// vdpbf16ps peak, where the CPU has one), and for the decode shapes W_GB/s (bytes of
// weights read per second, each call reads a layer not in cache) and pct_read_bw.
// The rows register themselves when the program starts; a backend without a GEMM
// for a precision gives an error row with mha's reason.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ceilings.h"
#include "mha/mha.h"

namespace mha_bench {
namespace {

struct LinearShape {
  const char* id;
  int64_t m, n, k;
  bool decode;  // weights streamed from memory: report bandwidth
};

const LinearShape kLinearShapes[] = {
    {"square", 1024, 1024, 1024, false},
    {"bert-qkv", 8 * 128, 2304, 768, false},
    {"bert-out", 8 * 128, 768, 768, false},
    {"bert512-qkv", 8 * 512, 2304, 768, false},
    {"bert512-out", 8 * 512, 768, 768, false},
    {"prefill-q", 2048, 4096, 4096, false},
    {"prefill-kv", 2048, 1024, 4096, false},
    {"decode", 1, 4096, 4096, true},
    {"decode-batch", 16, 4096, 4096, true},
};

// The ceilings of one thread count, measured once, when the first row needs them.
const Ceilings& CeilingsFor(int threads) {
  static std::map<int, Ceilings> measured;
  auto it = measured.find(threads);
  if (it == measured.end()) it = measured.emplace(threads, MeasureCeilings(threads)).first;
  return it->second;
}

// A buffer of `count` elements of dtype, random in [-1, 1].
std::vector<uint16_t> RandomBits(mha_dtype dtype, int64_t count, uint64_t seed) {
  std::vector<uint16_t> bits(static_cast<size_t>(count * (dtype == MHA_F32 ? 2 : 1)));
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < count; ++i) {
    const float v = dist(rng);
    uint32_t u;
    std::memcpy(&u, &v, 4);
    if (dtype == MHA_F32) {
      std::memcpy(bits.data() + 2 * i, &v, 4);
    } else {
      bits[static_cast<size_t>(i)] = static_cast<uint16_t>(u >> 16);  // bf16 (truncated)
    }
  }
  return bits;
}

mha_tensor Matrix(void* data, mha_dtype dtype, int64_t rows, int64_t cols) {
  mha_tensor t{};
  t.data = data;
  t.dtype = dtype;
  const int64_t dims[4] = {1, rows, 1, cols}, strides[4] = {rows * cols, cols, cols, 1};
  for (int a = 0; a < 4; ++a) {
    t.dims[a] = dims[a];
    t.strides[a] = strides[a];
  }
  return t;
}

struct LinearRun {
  std::string backend;
  LinearShape shape;
  mha_dtype dtype;
  int threads;
};

void RunLinear(benchmark::State& state, const LinearRun& run) {
  const LinearShape& s = run.shape;
  const Ceilings& ceilings = CeilingsFor(run.threads);
  mha_context* raw = nullptr;
  if (mha_context_create(run.backend.c_str(), &raw) != MHA_OK) {
    state.SkipWithError(mha_last_error());
    return;
  }
  std::unique_ptr<mha_context, void (*)(mha_context*)> ctx(raw, mha_context_destroy);
  mha_context_set_num_threads(ctx.get(), run.threads);
  const int64_t w_bytes = s.n * s.k * (run.dtype == MHA_F32 ? 4 : 2);
  // Decode: enough layers that each call's weights come from memory.
  const int layers = s.decode ? static_cast<int>((int64_t{512} << 20) / w_bytes + 1) : 1;
  std::vector<std::unique_ptr<mha_linear, void (*)(mha_linear*)>> linears;
  for (int l = 0; l < layers; ++l) {
    const std::vector<uint16_t> w = RandomBits(run.dtype, s.n * s.k, 1 + l);
    mha_linear* linear = nullptr;
    if (mha_status st = mha_linear_create(ctx.get(), s.n, s.k, run.dtype, w.data(), nullptr,
                                          &linear)) {
      state.SkipWithError((std::string(mha_status_name(st)) + ": " + mha_last_error()).c_str());
      return;
    }
    linears.emplace_back(linear, mha_linear_destroy);
  }
  std::vector<uint16_t> x_bits = RandomBits(run.dtype, s.m * s.k, 100);
  std::vector<uint16_t> y_bits(static_cast<size_t>(s.m * s.n * (run.dtype == MHA_F32 ? 2 : 1)));
  mha_tensor x = Matrix(x_bits.data(), run.dtype, s.m, s.k);
  mha_tensor y = Matrix(y_bits.data(), run.dtype, s.m, s.n);
  if (mha_status st = mha_linear_forward(linears[0].get(), &x, &y)) {
    state.SkipWithError((std::string(mha_status_name(st)) + ": " + mha_last_error()).c_str());
    return;
  }
  int layer = 0;
  for (auto _ : state) {
    mha_linear_forward(linears[static_cast<size_t>(layer)].get(), &x, &y);
    layer = layer + 1 == layers ? 0 : layer + 1;
  }
  const double gflop = 2.0 * static_cast<double>(s.m * s.n * s.k) * 1e-9;
  using benchmark::Counter;
  state.counters["GFLOP/s"] = Counter(gflop, Counter::kIsIterationInvariantRate);
  state.counters["pct_fma_peak"] =
      Counter(100.0 * gflop / ceilings.fma_f32_gflops, Counter::kIsIterationInvariantRate);
  if (run.dtype == MHA_BF16 && ceilings.dot_bf16_gflops > 0) {
    state.counters["pct_dot_peak"] =
        Counter(100.0 * gflop / ceilings.dot_bf16_gflops, Counter::kIsIterationInvariantRate);
  }
  if (s.decode) {
    const double gb = static_cast<double>(w_bytes) * 1e-9;
    state.counters["W_GB/s"] = Counter(gb, Counter::kIsIterationInvariantRate);
    state.counters["pct_read_bw"] =
        Counter(100.0 * gb / ceilings.read_gbs, Counter::kIsIterationInvariantRate);
    state.counters["layers"] = layers;
  }
  state.SetLabel(mha_linear_backend(linears[0].get()));
}

// Registers one row per backend with a GEMM x shape x precision x thread count; the ISA
// in the name is the one the backend's context runs by default.
bool RegisterLinearBenchmarks() {
  std::vector<int> thread_counts = {1};
  if (omp_get_max_threads() > 1) thread_counts.push_back(omp_get_max_threads());
  for (const char* backend : {"highway", "onednn"}) {
    if (!mha_backend_available(backend)) continue;
    mha_context* ctx = nullptr;
    if (mha_context_create(backend, &ctx) != MHA_OK) continue;
    const std::string isa = mha_context_isa(ctx);
    mha_context_destroy(ctx);
    for (const LinearShape& shape : kLinearShapes) {
      for (mha_dtype dtype : {MHA_F32, MHA_BF16}) {
        for (int threads : thread_counts) {
          const std::string name = std::string(backend) + "/" + isa + "/linear-" + shape.id +
                                   "/" + mha_dtype_name(dtype) +
                                   "/threads:" + std::to_string(threads);
          const LinearRun run{backend, shape, dtype, threads};
          benchmark::RegisterBenchmark(name.c_str(), [run](benchmark::State& state) {
            RunLinear(state, run);
          })->UseRealTime()->Unit(benchmark::kMillisecond);
        }
      }
    }
  }
  return true;
}

const bool g_registered = RegisterLinearBenchmarks();

}  // namespace
}  // namespace mha_bench
