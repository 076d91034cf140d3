// The linear layers' GEMM in mha_bench: y = x W^T on each backend with a GEMM, for the
// projection shapes of the attention shapes, beside the machine's ceilings.
//
// Names are <backend>/<isa>/linear-<shape>/<precision>/threads:<n>; precision f32 is
// x, W and y in f32, bf16 is all three in bf16. Counters: GFLOP/s (2 M N K per call),
// pct_fma_peak (of the measured f32 FMA peak), pct_dot_peak for bf16 (of the measured
// vdpbf16ps peak, where the CPU has one), and for the decode shapes W_GB/s (bytes of
// weights read per second, each call reads a layer not in cache) and pct_read_bw.
// --quick runs the tiny-* shapes; --verify compares each row's first output with the
// reference backend's for the same weights and inputs where that is cheap (counter
// verified). A backend without a GEMM for a precision gives an error row with mha's
// reason.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_options.h"
#include "isa_levels.h"
#include "mha/mha.h"
#include "workload.h"

namespace mha_bench {
namespace {

struct LinearShape {
  const char* id;
  int64_t m, n, k;
  bool decode;  // weights streamed from memory: report bandwidth
};

// Rows whose f64 reference costs more than this many multiply-adds are not verified.
constexpr double kVerifyMaxMacs = 2e8;

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

const LinearShape kQuickLinearShapes[] = {
    {"tiny-square", 64, 64, 64, false},
    {"tiny-qkv", 4 * 32, 3 * 64, 64, false},
    {"tiny-decode", 1, 256, 256, true},
};

// A buffer of `count` elements of dtype, random in [-1, 1).
std::vector<uint16_t> RandomBits(mha_dtype dtype, int64_t count, uint64_t seed) {
  std::vector<uint16_t> bits(static_cast<size_t>(count * (dtype == MHA_F32 ? 2 : 1)));
  FillRandom(bits.data(), dtype, static_cast<size_t>(count), seed);
  return bits;
}

struct LinearRun {
  std::string backend;
  LinearShape shape;
  mha_dtype dtype;
  int threads;
  Ceilings ceilings;
  bool quick, verify;
};

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


// Empty when y matches the reference backend's output for the same weights and x
// within 1e-5 (f32) or 2^-7 (bf16) of max|reference|, else what differs.
std::string VerifyAgainstReference(const std::vector<uint16_t>& w, mha_tensor x,
                                   const std::vector<uint16_t>& y, const LinearRun& run) {
  const LinearShape& s = run.shape;
  mha_context* ctx = nullptr;
  mha_linear* linear = nullptr;
  std::vector<uint16_t> want(y.size());
  mha_tensor want_view = Matrix(want.data(), run.dtype, s.m, s.n);
  std::string error;
  if (mha_context_create("reference", &ctx) != MHA_OK ||
      mha_linear_create(ctx, s.n, s.k, run.dtype, w.data(), nullptr, &linear) != MHA_OK ||
      mha_linear_forward(linear, &x, &want_view) != MHA_OK) {
    error = std::string("verify: the reference failed: ") + mha_last_error();
  }
  mha_linear_destroy(linear);
  mha_context_destroy(ctx);
  if (!error.empty()) return error;
  double max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < static_cast<size_t>(s.m * s.n); ++i) {
    const double ref = ElementAsF32(want.data(), run.dtype, i);
    const double got = ElementAsF32(y.data(), run.dtype, i);
    max_ref = std::max(max_ref, std::fabs(ref));
    max_diff = std::max(max_diff, std::isnan(got) ? INFINITY : std::fabs(got - ref));
  }
  const double tolerance = (run.dtype == MHA_F32 ? 1e-5 : 1.0 / 128) * max_ref;
  if (max_diff <= tolerance) return "";
  return "verify: max |y - ref| = " + std::to_string(max_diff) + " > " +
         std::to_string(tolerance);
}

void RunLinear(benchmark::State& state, const LinearRun& run) {
  const LinearShape& s = run.shape;
  const Ceilings& ceilings = run.ceilings;
  mha_context* raw = CreateBestContext(run.backend);
  if (!raw) {
    state.SkipWithError(mha_last_error());
    return;
  }
  std::unique_ptr<mha_context, void (*)(mha_context*)> ctx(raw, mha_context_destroy);
  mha_context_set_num_threads(ctx.get(), run.threads);
  const int64_t w_bytes = s.n * s.k * (run.dtype == MHA_F32 ? 4 : 2);
  // Decode: enough layers that each call's weights come from memory.
  const int layers =
      s.decode && !run.quick ? static_cast<int>((int64_t{512} << 20) / w_bytes + 1) : 1;
  std::vector<uint16_t> first_weights;
  std::vector<std::unique_ptr<mha_linear, void (*)(mha_linear*)>> linears;
  for (int l = 0; l < layers; ++l) {
    std::vector<uint16_t> w = RandomBits(run.dtype, s.n * s.k, 1 + l);
    mha_linear* linear = nullptr;
    if (mha_status st = mha_linear_create(ctx.get(), s.n, s.k, run.dtype, w.data(), nullptr,
                                          &linear)) {
      state.SkipWithError((std::string(mha_status_name(st)) + ": " + mha_last_error()).c_str());
      return;
    }
    linears.emplace_back(linear, mha_linear_destroy);
    if (l == 0) first_weights = std::move(w);
  }
  std::vector<uint16_t> x_bits = RandomBits(run.dtype, s.m * s.k, 100);
  std::vector<uint16_t> y_bits(static_cast<size_t>(s.m * s.n * (run.dtype == MHA_F32 ? 2 : 1)));
  mha_tensor x = Matrix(x_bits.data(), run.dtype, s.m, s.k);
  mha_tensor y = Matrix(y_bits.data(), run.dtype, s.m, s.n);
  if (mha_status st = mha_linear_forward(linears[0].get(), &x, &y)) {
    state.SkipWithError((std::string(mha_status_name(st)) + ": " + mha_last_error()).c_str());
    return;
  }
  const bool verify = run.verify && double(s.m) * double(s.n) * double(s.k) <= kVerifyMaxMacs;
  if (verify) {
    const std::string error = VerifyAgainstReference(first_weights, x, y_bits, run);
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }
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
  if (run.verify) state.counters["verified"] = verify ? 1 : 0;
  state.SetLabel(mha_linear_backend(linears[0].get()));
}

}  // namespace

// One row per backend with a GEMM x shape x precision x thread count; the ISA in the
// name is the one the backend's context runs by default.
void RegisterLinearBenchmarks(const Options& options, const std::map<int, Ceilings>& ceilings) {
  for (const char* backend : {"highway", "onednn"}) {
    if (!mha_backend_available(backend)) continue;
    mha_context* ctx = CreateBestContext(backend);
    if (!ctx) continue;
    const std::string isa = mha_context_isa(ctx);
    mha_context_destroy(ctx);
    const auto register_shape = [&](const LinearShape& shape) {
      for (mha_dtype dtype : {MHA_F32, MHA_BF16}) {
        for (const auto& [threads, c] : ceilings) {
          const std::string name = std::string(backend) + "/" + isa + "/linear-" + shape.id +
                                   "/" + mha_dtype_name(dtype) +
                                   "/threads:" + std::to_string(threads);
          const LinearRun run{backend, shape, dtype, threads, c, options.quick, options.verify};
          benchmark::RegisterBenchmark(name.c_str(), [run](benchmark::State& state) {
            RunLinear(state, run);
          })->UseRealTime()->Unit(benchmark::kMillisecond);
        }
      }
    };
    if (options.quick) {
      for (const LinearShape& shape : kQuickLinearShapes) register_shape(shape);
    } else {
      for (const LinearShape& shape : kLinearShapes) register_shape(shape);
    }
  }
}

}  // namespace mha_bench
