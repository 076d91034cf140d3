// mha_bench: attention throughput of every backend x shape x dtype x ISA level x
// thread count, beside this CPU's measured ceilings (docs/shapes.md).
//
//   mha_bench [--quick] [--verify] [Google Benchmark flags, e.g. --benchmark_filter=bert]
//   mha_bench --print_shapes     the shape sets as JSON, for tools/peers.py
//
// --quick: the small CI shapes and short timings. --verify: each row's first call,
// made before timing, is compared with the reference backend's output for the
// attention the shape names (bench/verify.h); a row that is off fails with
// "verify: max |out - ref| = ...". Shapes over 2 GFLOP are not checked (the f64
// reference would take too long); the counter verified is 1 where checked, else 0.
//
// Names are <backend>/<isa>/<shape>/<dtype>/threads:<n>. Counters: GFLOP/s,
// pct_fma_peak (of the measured f32 FMA peak at that thread count), and for decode
// shapes KV_GB/s and pct_read_bw; extra_MiB is the peak resident memory a call added.
// The ceilings are measured first (in the JSON context) and again last (ceilings/end).
// A call a backend cannot run is reported as an error row with mha's reason.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_options.h"
#include "ceilings.h"
#include "isa_levels.h"
#include "memory.h"
#include "mha/mha.h"
#include "shapes.h"
#include "verify.h"
#include "workload.h"

namespace mha_bench {
namespace {

// Lower ISA levels run only shapes up to this much work per call (scalar code would
// take minutes on prefill); the best level runs every shape.
constexpr double kLowerIsaMaxFlops = 10e9;

// Removes our own flags from argv, leaving Google Benchmark's.
Options ParseOptions(int* argc, char** argv, std::vector<std::string>* injected) {
  Options options;
  bool has_min_time = false;
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      options.quick = true;
      continue;
    }
    if (std::strcmp(argv[i], "--verify") == 0) {
      options.verify = true;
      continue;
    }
    if (std::strncmp(argv[i], "--benchmark_min_time", 20) == 0) has_min_time = true;
    argv[kept++] = argv[i];
  }
  *argc = kept;
  if (options.quick && !has_min_time) injected->push_back("--benchmark_min_time=0.05");
  return options;
}

struct Run {
  std::string name;
  const Shape* shape;
  const Precision* precision;
  mha_context* ctx;
  int threads;
  double peak_gflops;
  double read_gbs;
  bool verify;
};

// The largest extra resident memory seen per benchmark name, over all its runs.
std::map<std::string, double>& ExtraMiB() {
  static std::map<std::string, double> extra;
  return extra;
}

void RunAttention(benchmark::State& state, const Run& run) {
  const Workload& w = Workload::Get(*run.shape, *run.precision);
  // Computed (once per workload) before the memory tracking starts: extra_MiB leaves it out.
  const bool verify = run.verify && VerifyAffordable(*run.shape);
  const ReferenceOutput* expected =
      verify ? &ReferenceOutput::Get(*run.shape, *run.precision, w) : nullptr;
  mha_context_set_num_threads(run.ctx, run.threads);
  const bool tracked = ResetPeakResident();
  const size_t base = ResidentBytes();
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  desc.causal = run.shape->causal;
  const mha_status status = mha_attention(run.ctx, &w.q(), &w.k(0), &w.v(0), w.out(), &desc);
  if (status != MHA_OK) {
    state.SkipWithError((std::string(mha_status_name(status)) + ": " + mha_last_error()).c_str());
    return;
  }
  if (expected) {
    const std::string error = expected->Compare(*w.out());
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }
  }
  int layer = 0;
  for (auto _ : state) {
    mha_attention(run.ctx, &w.q(), &w.k(layer), &w.v(layer), w.out(), &desc);
    layer = layer + 1 == w.layers() ? 0 : layer + 1;
  }
  const double gflop = Flops(*run.shape) * 1e-9;
  using benchmark::Counter;
  state.counters["GFLOP/s"] = Counter(gflop, Counter::kIsIterationInvariantRate);
  state.counters["pct_fma_peak"] =
      Counter(100.0 * gflop / run.peak_gflops, Counter::kIsIterationInvariantRate);
  if (run.shape->decode) {
    const double gb = KvBytes(*run.shape, *run.precision) * 1e-9;
    state.counters["KV_GB/s"] = Counter(gb, Counter::kIsIterationInvariantRate);
    state.counters["pct_read_bw"] =
        Counter(100.0 * gb / run.read_gbs, Counter::kIsIterationInvariantRate);
    state.counters["layers"] = w.layers();
  }
  if (tracked) {
    double& extra = ExtraMiB()[run.name];
    extra = std::max(extra, static_cast<double>(PeakResidentBytes() - base) / (1 << 20));
    state.counters["extra_MiB"] = extra;
  }
  if (run.verify) state.counters["verified"] = verify ? 1 : 0;
}

std::string Format(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

// Measures and records the ceilings for each thread count; returns them.
std::map<int, Ceilings> MeasureAllCeilings(const std::vector<int>& thread_counts) {
  std::map<int, Ceilings> ceilings;
  benchmark::AddCustomContext("mha_version", mha_version());
  benchmark::AddCustomContext("ceiling_target", CeilingTarget());
  for (int t : thread_counts) {
    const Ceilings c = MeasureCeilings(t);
    const std::string suffix = "_threads_" + std::to_string(t);
    benchmark::AddCustomContext("fma_f32_gflops" + suffix, Format(c.fma_f32_gflops));
    benchmark::AddCustomContext("dot_bf16_gflops" + suffix, Format(c.dot_bf16_gflops));
    benchmark::AddCustomContext("read_gbs" + suffix, Format(c.read_gbs));
    ceilings[t] = c;
  }
  return ceilings;
}

std::map<int, Ceilings> PlaceholderCeilings(const std::vector<int>& thread_counts) {
  std::map<int, Ceilings> ceilings;
  for (int t : thread_counts) ceilings[t].threads = t;
  return ceilings;
}

// Benchmarks that measure the ceilings again after everything else, so that a report
// can take the better of the two measurements on a machine shared with other work.
void RegisterCeilingsAgain(const std::vector<int>& thread_counts) {
  for (int t : thread_counts) {
    const std::string name = "ceilings/end/threads:" + std::to_string(t);
    benchmark::RegisterBenchmark(name.c_str(), [t](benchmark::State& state) {
      Ceilings c;
      for (auto _ : state) c = MeasureCeilings(t);
      state.counters["fma_f32_gflops"] = c.fma_f32_gflops;
      state.counters["dot_bf16_gflops"] = c.dot_bf16_gflops;
      state.counters["read_gbs"] = c.read_gbs;
    })->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
  }
}

// A benchmark that only reports why a backend cannot run.
void RegisterUnavailable(const std::string& backend, const std::string& reason) {
  benchmark::RegisterBenchmark((backend + "/unavailable").c_str(),
                               [reason](benchmark::State& state) {
                                 state.SkipWithError(reason.c_str());
                               });
}

void RegisterAll(const Options& options, const std::map<int, Ceilings>& ceilings) {
  const std::vector<Shape>& shapes = options.quick ? QuickShapes() : StandardShapes();
  struct Level {
    std::string backend, isa;
    mha_context* ctx;
    bool best;
  };
  std::vector<Level> levels;
  for (int i = 0; i < mha_backend_count(); ++i) {
    const std::string backend = mha_backend_name(i);
    std::vector<std::string> seen;
    for (const mha_isa cap : IsaLevels()) {
      mha_context* ctx = CreateContextCapped(backend, cap);
      if (!ctx) {
        if (seen.empty()) RegisterUnavailable(backend, mha_last_error());
        break;
      }
      const std::string isa = mha_context_isa(ctx);
      if (std::find(seen.begin(), seen.end(), isa) != seen.end()) {
        mha_context_destroy(ctx);
        continue;
      }
      levels.push_back({backend, isa, ctx, seen.empty()});
      seen.push_back(isa);
    }
  }
  for (const Shape& shape : shapes) {
    for (const Precision& precision : Precisions()) {
      for (const Level& level : levels) {
        // The scalar reference is far too slow beyond the small shapes.
        if (level.backend == "reference" && Flops(shape) > 0.1e9) continue;
        if (!level.best && !options.quick && Flops(shape) > kLowerIsaMaxFlops) continue;
        for (const auto& [threads, c] : ceilings) {
          if (!level.best && !options.quick && threads != 1) continue;
          const std::string name = level.backend + "/" + level.isa + "/" + shape.id + "/" +
                                   precision.id + "/threads:" + std::to_string(threads);
          const Run run{name,    &shape,          &precision, level.ctx,
                        threads, c.fma_f32_gflops, c.read_gbs,  options.verify};
          benchmark::RegisterBenchmark(name.c_str(), [run](benchmark::State& state) {
            RunAttention(state, run);
          })->UseRealTime()->Unit(benchmark::kMillisecond);
        }
      }
    }
  }
}

}  // namespace
}  // namespace mha_bench

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--print_shapes") == 0) {
    std::fputs(mha_bench::ShapesJson().c_str(), stdout);
    return 0;
  }
  std::vector<std::string> injected;
  const mha_bench::Options options = mha_bench::ParseOptions(&argc, argv, &injected);
  std::vector<char*> args(argv, argv + argc);
  for (std::string& arg : injected) args.push_back(arg.data());
  // Listing needs no figures: skip the seconds of ceiling measurements.
  const bool list_only = std::any_of(args.begin(), args.end(), [](const char* arg) {
    return std::strncmp(arg, "--benchmark_list_tests", 22) == 0;
  });
  int args_count = static_cast<int>(args.size());
  benchmark::Initialize(&args_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(args_count, args.data())) return 1;

  std::vector<int> thread_counts = {1};
  if (omp_get_max_threads() > 1) thread_counts.push_back(omp_get_max_threads());
  const auto ceilings = list_only ? mha_bench::PlaceholderCeilings(thread_counts)
                                  : mha_bench::MeasureAllCeilings(thread_counts);
  mha_bench::RegisterAll(options, ceilings);
  mha_bench::RegisterLayerBenchmarks(options, ceilings);
  mha_bench::RegisterLinearBenchmarks(options, ceilings);
  mha_bench::RegisterCeilingsAgain(thread_counts);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
