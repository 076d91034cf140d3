// The whole attention layer in mha_bench: mha_layer_forward (the four projections, RoPE
// and attention) on each backend, for the layer shapes below, beside the ceilings.
//
// Names are <backend>/<isa>/<shape>/<weights dtype>/threads:<n>. An f32 row is f32
// throughout; a bf16 row has bf16 weights and also bf16 x, out, activations
// (activation_dtype, the counter act_bf16 = 1) and KV cache. Counters: GFLOP/s with
// FLOPs = 2 M N K per projection + 4 B Hq D (visible pairs) for attention; pct_fma_peak
// (of the measured f32 FMA peak) and for bf16 rows pct_dot_peak (of the measured
// vdpbf16ps peak, where the CPU has one); for decode shapes read_GB/s (weights and K/V
// cache read per step) and pct_read_bw, measured over as many layers (each its own
// weights and cache) as make 512 MiB, so that every step streams from memory.
//
// A decode step is one new token per row over a cache of kv_len - 1 entries: each
// iteration truncates every row back to kv_len - 1 and forwards one token, so every step
// attends over kv_len keys. --quick runs the tiny-* shapes (and the reference backend);
// --verify compares each row's first output with the reference backend's for the same
// layer and inputs where that costs at most kVerifyMaxFlops (counter verified).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_options.h"
#include "isa_levels.h"
#include "mha/mha.h"
#include "shapes.h"
#include "workload.h"

namespace mha_bench {
namespace {

constexpr double kColdBytes = 512.0 * (1 << 20);  // decode layers add up to this much
constexpr int kMaxLayers = 32;
constexpr double kVerifyMaxFlops = 0.5e9;  // the f64 reference takes about a second

struct LayerShape {
  const char* id;
  int64_t batch, len;  // len: new tokens per row
  int64_t d_model, heads, kv_heads, head_dim;
  bool causal, rope, bias, packed;  // packed: nn.MultiheadAttention's in_proj_weight
  int64_t kv_len;                   // decode: keys attended per step over a cache; else 0
  std::vector<mha_dtype> dtypes;
  bool decode() const { return kv_len > 0; }
};

const std::vector<LayerShape>& StandardLayerShapes() {
  static const std::vector<LayerShape> shapes = {
      // id                       B     L    E   Hq Hkv    D  causal rope  bias  packed kv
      {"bert-layer-128",          8,  128,  768, 12, 12,  64, false, false, true, true, 0,
       {MHA_F32, MHA_BF16}},
      {"bert-layer-512",          8,  512,  768, 12, 12,  64, false, false, true, true, 0,
       {MHA_F32, MHA_BF16}},
      {"llama-prefill-layer",     1, 2048, 4096, 32,  8, 128, true,  true, false, false, 0,
       {MHA_BF16}},
      {"llama-decode-layer-b1",   1,    1, 4096, 32,  8, 128, true,  true, false, false, 4096,
       {MHA_BF16}},
      {"llama-decode-layer-b16", 16,    1, 4096, 32,  8, 128, true,  true, false, false, 4096,
       {MHA_BF16}},
  };
  return shapes;
}

const std::vector<LayerShape>& QuickLayerShapes() {
  static const std::vector<LayerShape> shapes = {
      {"tiny-layer",              2,   64,  256,  4,  4,  64, false, false, true, true, 0,
       {MHA_F32, MHA_BF16}},
      {"tiny-prefill-layer",      1,  128,  512,  8,  2,  64, true,  true, false, false, 0,
       {MHA_BF16}},
      {"tiny-decode-layer",       2,    1,  512,  8,  2,  64, true,  true, false, false, 256,
       {MHA_BF16}},
  };
  return shapes;
}

// The attention part as an attention Shape, for its FLOPs and K/V bytes.
Shape AttentionShape(const LayerShape& s) {
  const int64_t keys = s.decode() ? s.kv_len : s.len;
  return Shape{s.id, s.batch, s.heads, s.kv_heads, s.len, keys, s.head_dim, s.causal,
               s.decode()};
}

double LayerFlops(const LayerShape& s) {
  const double m = static_cast<double>(s.batch * s.len);
  const double q = static_cast<double>(s.heads * s.head_dim);
  const double kv = static_cast<double>(s.kv_heads * s.head_dim);
  const double e = static_cast<double>(s.d_model);
  return 2.0 * m * e * (2.0 * q + 2.0 * kv) + Flops(AttentionShape(s));
}

int64_t WeightElements(const LayerShape& s) {
  return s.d_model * (2 * s.heads + 2 * s.kv_heads) * s.head_dim;
}

size_t CacheBytes(const LayerShape& s, mha_dtype dtype) {
  return static_cast<size_t>(2 * s.batch * s.kv_len * s.kv_heads * s.head_dim) *
         DtypeBytes(dtype);
}

// n values uniform in [-scale, scale), stored as dtype (bf16 rounded to nearest even).
std::vector<uint8_t> RandomBuffer(mha_dtype dtype, size_t n, uint64_t seed, float scale) {
  std::vector<float> values(n);
  FillRandom(values.data(), MHA_F32, n, seed);
  std::vector<uint8_t> bytes(n * DtypeBytes(dtype));
  for (size_t i = 0; i < n; ++i) {
    const float x = values[i] * scale;
    if (dtype == MHA_F32) {
      std::memcpy(bytes.data() + 4 * i, &x, sizeof x);
      continue;
    }
    const uint16_t half = Bf16FromF32(x);
    std::memcpy(bytes.data() + 2 * i, &half, sizeof half);
  }
  return bytes;
}

std::vector<float> RandomFloats(size_t n, uint64_t seed, float scale) {
  std::vector<float> values(n);
  FillRandom(values.data(), MHA_F32, n, seed);
  for (float& x : values) x *= scale;
  return values;
}

mha_tensor Rows(void* data, mha_dtype dtype, int64_t batch, int64_t len, int64_t features) {
  return mha_tensor{data, dtype, {batch, len, 1, features},
                    {len * features, features, features, 1}};
}

using ContextPtr = std::unique_ptr<mha_context, void (*)(mha_context*)>;
using LayerPtr = std::unique_ptr<mha_layer, void (*)(mha_layer*)>;
using CachePtr = std::unique_ptr<mha_kv_cache, void (*)(mha_kv_cache*)>;

std::string Failure(mha_status status) {
  return std::string(mha_status_name(status)) + ": " + mha_last_error();
}

// The host-side weights of one (shape, dtype), in nn.Linear's layout, scaled by
// 1/sqrt(in_features) so that activations stay of order 1.
struct LayerWeights {
  std::vector<uint8_t> in_proj, wq, wk, wv, wo;
  std::vector<float> in_proj_bias, bo;

  LayerWeights(const LayerShape& s, mha_dtype dtype) {
    const int64_t q = s.heads * s.head_dim, kv = s.kv_heads * s.head_dim, e = s.d_model;
    const float scale = 1.0f / std::sqrt(static_cast<float>(e));
    if (s.packed) {
      in_proj = RandomBuffer(dtype, static_cast<size_t>((q + 2 * kv) * e), 11, scale);
    } else {
      wq = RandomBuffer(dtype, static_cast<size_t>(q * e), 12, scale);
      wk = RandomBuffer(dtype, static_cast<size_t>(kv * e), 13, scale);
      wv = RandomBuffer(dtype, static_cast<size_t>(kv * e), 14, scale);
    }
    wo = RandomBuffer(dtype, static_cast<size_t>(e * q), 15,
                      1.0f / std::sqrt(static_cast<float>(q)));
    if (s.bias) {
      in_proj_bias = RandomFloats(static_cast<size_t>(q + 2 * kv), 16, 0.1f);
      bo = RandomFloats(static_cast<size_t>(e), 17, 0.1f);
    }
  }

  mha_status Create(mha_context* ctx, const LayerShape& s, mha_dtype dtype,
                    mha_layer** out) const {
    mha_layer_desc d;
    mha_layer_desc_init(&d);
    d.d_model = s.d_model;
    d.num_heads = s.heads;
    d.num_kv_heads = s.kv_heads;
    d.head_dim = s.head_dim;
    d.weight_dtype = dtype;
    d.activation_dtype = dtype;
    d.in_proj_weight = in_proj.empty() ? nullptr : in_proj.data();
    d.wq = wq.empty() ? nullptr : wq.data();
    d.wk = wk.empty() ? nullptr : wk.data();
    d.wv = wv.empty() ? nullptr : wv.data();
    d.wo = wo.data();
    d.in_proj_bias = in_proj_bias.empty() ? nullptr : in_proj_bias.data();
    d.bo = bo.empty() ? nullptr : bo.data();
    d.causal = s.causal;
    d.rope = s.rope ? MHA_ROPE_NEOX : MHA_ROPE_NONE;
    return mha_layer_create(ctx, &d, out);
  }
};

// Sets every row of `cache` to `length` tokens holding random K/V. The lengths can only
// grow through forwards: a cheap layer of the cache's heads (d_model 8, each query seeing
// only its own key) runs once over `length` tokens, then its K/V are overwritten.
mha_status Prefill(mha_context* ctx, mha_kv_cache* cache, const LayerShape& s, mha_dtype dtype,
                   int64_t length, uint64_t seed) {
  constexpr int64_t kModel = 8;
  const int64_t features = s.kv_heads * s.head_dim;
  std::vector<float> w(static_cast<size_t>(features * kModel), 0.0f);
  mha_layer_desc d;
  mha_layer_desc_init(&d);
  d.d_model = kModel;
  d.num_heads = d.num_kv_heads = s.kv_heads;
  d.head_dim = s.head_dim;
  d.wq = d.wk = d.wv = d.wo = w.data();
  d.causal = 1;
  d.window_left = 0;
  mha_layer* raw = nullptr;
  if (mha_status st = mha_layer_create(ctx, &d, &raw)) return st;
  const LayerPtr filler(raw, mha_layer_destroy);
  mha_kv_cache_reset(cache);
  std::vector<float> x(static_cast<size_t>(s.batch * length * kModel), 0.0f), out(x.size());
  mha_tensor xv = Rows(x.data(), MHA_F32, s.batch, length, kModel);
  mha_tensor ov = Rows(out.data(), MHA_F32, s.batch, length, kModel);
  if (mha_status st = mha_layer_forward(filler.get(), &xv, nullptr, &ov, nullptr, cache)) {
    return st;
  }
  mha_tensor k, v;
  if (mha_status st = mha_kv_cache_views(cache, &k, &v)) return st;
  const size_t elements = CacheBytes(s, dtype) / 2 / DtypeBytes(dtype);
  FillRandom(k.data, dtype, elements, seed);
  FillRandom(v.data, dtype, elements, seed + 1);
  return MHA_OK;
}

// The inputs of one (shape, dtype), shared by its rows: the weights, x, out and, for
// decode, one prefilled KV cache per layer. Rows truncate the caches back before each
// step, so they stay as prefilled.
struct LayerWorkload {
  LayerWeights weights;
  std::vector<uint8_t> x, out;
  std::vector<CachePtr> caches;
  int layers = 1;
  std::string error;

  LayerWorkload(const LayerShape& s, mha_dtype dtype) : weights(s, dtype) {
    const size_t rows = static_cast<size_t>(s.batch * s.len * s.d_model);
    x = RandomBuffer(dtype, rows, 18, 1.0f);
    out.resize(rows * DtypeBytes(dtype));
    if (!s.decode()) return;
    const double bytes = static_cast<double>(WeightElements(s)) * DtypeBytes(dtype) +
                         static_cast<double>(CacheBytes(s, dtype));
    layers = std::clamp(static_cast<int>(std::ceil(kColdBytes / bytes)), 1, kMaxLayers);
    // Filling runs on highway, whose attention skips what the filler's window hides (the
    // cache keeps no context).
    mha_context* raw = nullptr;
    mha_status st = mha_context_create("highway,reference", &raw);
    const ContextPtr ctx(raw, mha_context_destroy);
    for (int l = 0; l < layers && st == MHA_OK; ++l) {
      mha_kv_cache* cache = nullptr;
      st = mha_kv_cache_create(ctx.get(), s.batch, s.kv_heads, s.kv_len, s.head_dim, dtype,
                               &cache);
      if (st != MHA_OK) break;
      caches.emplace_back(cache, mha_kv_cache_destroy);
      st = Prefill(ctx.get(), cache, s, dtype, s.kv_len - 1, 100 + 2 * l);
    }
    if (st != MHA_OK) error = "prefilling the KV cache: " + Failure(st);
  }

  // One step of layer `l`: a forward of x (for decode after truncating the cache).
  mha_status Forward(mha_layer* layer, const LayerShape& s, mha_dtype dtype, int l) {
    mha_tensor xv = Rows(x.data(), dtype, s.batch, s.len, s.d_model);
    mha_tensor ov = Rows(out.data(), dtype, s.batch, s.len, s.d_model);
    mha_kv_cache* cache = s.decode() ? caches[static_cast<size_t>(l)].get() : nullptr;
    for (int64_t b = 0; cache && b < s.batch; ++b) {
      if (mha_status st = mha_kv_cache_truncate(cache, b, s.kv_len - 1)) return st;
    }
    return mha_layer_forward(layer, &xv, nullptr, &ov, nullptr, cache);
  }
};

// The workload of (shape, dtype), built on first use; only the latest one is kept.
LayerWorkload& WorkloadOf(const LayerShape& s, mha_dtype dtype) {
  static std::unique_ptr<LayerWorkload> current;
  static std::string current_key;
  const std::string key = std::string(s.id) + "/" + mha_dtype_name(dtype);
  if (!current || key != current_key) {
    current.reset();
    current = std::make_unique<LayerWorkload>(s, dtype);
    current_key = key;
  }
  return *current;
}

// "" when `got` is within the layer tests' tolerance of the reference backend's output
// for the same layer and inputs (docs/layer.md), else "verify: ..." with the worst error.
std::string Verify(LayerWorkload& w, const LayerShape& s, mha_dtype dtype) {
  const std::vector<uint8_t> got = w.out;
  mha_context* ctx = nullptr;
  if (mha_status st = mha_context_create("reference", &ctx)) return "verify: " + Failure(st);
  const ContextPtr owner(ctx, mha_context_destroy);
  mha_layer* raw = nullptr;
  if (mha_status st = w.weights.Create(ctx, s, dtype, &raw)) return "verify: " + Failure(st);
  const LayerPtr layer(raw, mha_layer_destroy);
  if (mha_status st = w.Forward(layer.get(), s, dtype, 0)) return "verify: " + Failure(st);
  const size_t n = got.size() / DtypeBytes(dtype);
  double max_want = 0, worst = 0, worst_excess = -1e30;
  for (size_t i = 0; i < n; ++i) {
    max_want = std::max(max_want, std::fabs(double{ElementAsF32(w.out.data(), dtype, i)}));
  }
  for (size_t i = 0; i < n; ++i) {
    const double want = ElementAsF32(w.out.data(), dtype, i);
    const double err = std::fabs(ElementAsF32(got.data(), dtype, i) - want);
    const double tol = dtype == MHA_F32 ? 1e-4 * (1 + std::fabs(want))
                                        : 2e-2 * std::max(1.0, max_want);
    const double excess = std::isnan(err) ? 1e30 : err - tol;
    if (excess > worst_excess) worst_excess = excess, worst = err;
  }
  if (worst_excess <= 0) return "";
  char text[160];
  std::snprintf(text, sizeof text, "verify: max |out - ref| = %.3g > tol (max |ref| %.3g)",
                worst, max_want);
  return text;
}

struct LayerRun {
  std::string backend;
  LayerShape shape;
  mha_dtype dtype;
  int threads;
  Ceilings ceilings;
  bool verify;
};

void RunLayer(benchmark::State& state, const LayerRun& run) {
  const LayerShape& s = run.shape;
  const Ceilings& ceilings = run.ceilings;
  LayerWorkload& w = WorkloadOf(s, run.dtype);
  if (!w.error.empty()) {
    state.SkipWithError(w.error.c_str());
    return;
  }
  mha_context* ctx = CreateBestContext(run.backend);
  if (!ctx) {
    state.SkipWithError(mha_last_error());
    return;
  }
  const ContextPtr owner(ctx, mha_context_destroy);
  mha_context_set_num_threads(ctx, run.threads);
  std::vector<LayerPtr> layers;
  for (int l = 0; l < w.layers; ++l) {
    mha_layer* raw = nullptr;
    if (mha_status st = w.weights.Create(ctx, s, run.dtype, &raw)) {
      state.SkipWithError(Failure(st).c_str());
      return;
    }
    layers.emplace_back(raw, mha_layer_destroy);
  }
  if (mha_status st = w.Forward(layers[0].get(), s, run.dtype, 0)) {
    state.SkipWithError(Failure(st).c_str());
    return;
  }
  const bool verify = run.verify && LayerFlops(s) <= kVerifyMaxFlops;
  if (verify) {
    const std::string error = Verify(w, s, run.dtype);
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }
  }
  int l = 0;
  for (auto _ : state) {
    w.Forward(layers[static_cast<size_t>(l)].get(), s, run.dtype, l);
    l = l + 1 == w.layers ? 0 : l + 1;
  }
  const double gflop = LayerFlops(s) * 1e-9;
  using benchmark::Counter;
  const auto rate = [&](double per_call) {
    return Counter(per_call, Counter::kIsIterationInvariantRate);
  };
  state.counters["GFLOP/s"] = rate(gflop);
  state.counters["pct_fma_peak"] = rate(100.0 * gflop / ceilings.fma_f32_gflops);
  if (run.dtype == MHA_BF16 && ceilings.dot_bf16_gflops > 0) {
    state.counters["pct_dot_peak"] = rate(100.0 * gflop / ceilings.dot_bf16_gflops);
  }
  state.counters["act_bf16"] = run.dtype == MHA_BF16;
  if (s.decode()) {
    const double gb = (static_cast<double>(WeightElements(s)) * DtypeBytes(run.dtype) +
                       static_cast<double>(CacheBytes(s, run.dtype))) * 1e-9;
    state.counters["read_GB/s"] = rate(gb);
    state.counters["pct_read_bw"] = rate(100.0 * gb / ceilings.read_gbs);
    state.counters["layers"] = w.layers;
  }
  if (run.verify) state.counters["verified"] = verify;
}

}  // namespace

// One row per backend x shape x weight dtype x thread count, grouped by shape and dtype
// (each workload is built once and freed when the next one is needed).
void RegisterLayerBenchmarks(const Options& options, const std::map<int, Ceilings>& ceilings) {
  std::vector<std::pair<std::string, std::string>> backends;  // name, ISA
  for (const char* name : {"highway", "onednn", "reference"}) {
    if (!options.quick && std::strcmp(name, "reference") == 0) continue;
    if (!mha_backend_available(name)) continue;
    mha_context* ctx = CreateBestContext(name);
    if (!ctx) continue;
    backends.emplace_back(name, mha_context_isa(ctx));
    mha_context_destroy(ctx);
  }
  for (const LayerShape& shape : options.quick ? QuickLayerShapes() : StandardLayerShapes()) {
    for (mha_dtype dtype : shape.dtypes) {
      for (const auto& [backend, isa] : backends) {
        for (const auto& [threads, c] : ceilings) {
          const std::string name = backend + "/" + isa + "/" + shape.id + "/" +
                                   mha_dtype_name(dtype) + "/threads:" + std::to_string(threads);
          const LayerRun run{backend, shape, dtype, threads, c, options.verify};
          benchmark::RegisterBenchmark(name.c_str(), [run](benchmark::State& state) {
            RunLayer(state, run);
          })->UseRealTime()->Unit(benchmark::kMillisecond);
        }
      }
    }
  }
}

}  // namespace mha_bench
