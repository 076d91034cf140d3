// Kernel benchmark of the Highway backend for its own tuning (the comparisons
// across backends and peers are in mha_bench): design.md §6 shapes at the thread
// count of MHA_NUM_THREADS (1 by default here), f32 and bf16, GFLOP/s counted as
// 4 * B * Hq * visible pairs * D, decode also as GB/s of K/V read.
//   OMP_NUM_THREADS=1 highway_bench --benchmark_filter=prefill
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "memory.h"
#include "mha/mha.h"

namespace {

struct Shape {
  int64_t batch, num_heads, num_kv_heads, q_len, kv_len, head_dim;
  bool causal;
};

// A contiguous BSHD tensor of f32 or bf16 random values in [-1, 1), 2 MiB aligned
// like mha_bench's (a K/V row of 256 bytes off a 64-byte boundary spans 5 cache
// lines instead of 4, which alone costs decode about 12%).
struct Buffer {
  mha_bench::Buffer data;
  mha_tensor view{};

  Buffer(int64_t b, int64_t s, int64_t h, int64_t d, mha_dtype dtype, std::mt19937& rng) {
    const size_t n = static_cast<size_t>(b * s * h * d);
    data = mha_bench::AllocateTouched(n * (dtype == MHA_BF16 ? 2 : 4));
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (size_t i = 0; i < n; ++i) {
      const float f = dist(rng);
      if (dtype == MHA_BF16) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        reinterpret_cast<uint16_t*>(data.get())[i] = static_cast<uint16_t>(u >> 16);
      } else {
        reinterpret_cast<float*>(data.get())[i] = f;
      }
    }
    view.data = data.get();
    view.dtype = dtype;
    const int64_t dims[4] = {b, s, h, d};
    const int64_t strides[4] = {s * h * d, h * d, d, 1};
    for (int a = 0; a < 4; ++a) {
      view.dims[a] = dims[a];
      view.strides[a] = strides[a];
    }
  }
};

int BenchThreads() {
  const char* env = std::getenv("MHA_NUM_THREADS");
  return env ? std::atoi(env) : 1;
}

double VisiblePairs(const Shape& s) {
  if (!s.causal) return double(s.q_len) * double(s.kv_len);
  double pairs = 0;
  for (int64_t i = 0; i < s.q_len; ++i) pairs += double(i + s.kv_len - s.q_len + 1);
  return pairs;
}

// `caches` distinct K/V sets, used round-robin, so that decode reads from DRAM.
void RunAttention(benchmark::State& state, const Shape& s, mha_dtype dtype, int caches) {
  std::mt19937 rng(1);
  Buffer q(s.batch, s.q_len, s.num_heads, s.head_dim, dtype, rng);
  Buffer out(s.batch, s.q_len, s.num_heads, s.head_dim, MHA_F32, rng);
  std::vector<Buffer> ks, vs;
  for (int c = 0; c < caches; ++c) {
    ks.emplace_back(s.batch, s.kv_len, s.num_kv_heads, s.head_dim, dtype, rng);
    vs.emplace_back(s.batch, s.kv_len, s.num_kv_heads, s.head_dim, dtype, rng);
  }
  mha_context* ctx = nullptr;
  if (mha_context_create("highway", &ctx) != MHA_OK ||
      mha_context_set_num_threads(ctx, BenchThreads()) != MHA_OK) {
    state.SkipWithError(mha_last_error());
    return;
  }
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  desc.causal = s.causal;
  int c = 0;
  for (auto _ : state) {
    if (mha_attention(ctx, &q.view, &ks[c].view, &vs[c].view, &out.view, &desc) != MHA_OK) {
      state.SkipWithError(mha_last_error());
      break;
    }
    c = (c + 1) % caches;
  }
  const double flops = 4.0 * s.batch * s.num_heads * VisiblePairs(s) * s.head_dim;
  const double kv_bytes = 2.0 * s.batch * s.kv_len * s.num_kv_heads * s.head_dim *
                          (dtype == MHA_F32 ? 4 : 2);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["KV_GB/s"] =
      benchmark::Counter(kv_bytes * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(mha_context_isa(ctx));
  mha_context_destroy(ctx);
}

const Shape kPrefill{1, 32, 32, 2048, 2048, 128, false};
const Shape kPrefillCausal{1, 32, 8, 2048, 2048, 128, true};
const Shape kDecode{1, 32, 8, 1, 4096, 128, false};
const Shape kDecodeBatch{16, 32, 8, 1, 2048, 128, false};
const Shape kBert{8, 12, 12, 512, 512, 64, false};
const Shape kTiny{1, 8, 8, 128, 128, 64, false};
const Shape kLong{1, 8, 8, 16384, 16384, 64, true};
const Shape kOneByEight{1, 1, 1, 1, 1, 8, false};  // the fixed cost of a call

void BM_Prefill_F32(benchmark::State& st) { RunAttention(st, kPrefill, MHA_F32, 1); }
void BM_Prefill_BF16(benchmark::State& st) { RunAttention(st, kPrefill, MHA_BF16, 1); }
void BM_PrefillCausal_F32(benchmark::State& st) { RunAttention(st, kPrefillCausal, MHA_F32, 1); }
void BM_PrefillCausal_BF16(benchmark::State& st) {
  RunAttention(st, kPrefillCausal, MHA_BF16, 1);
}
void BM_Bert_F32(benchmark::State& st) { RunAttention(st, kBert, MHA_F32, 1); }
void BM_Tiny_F32(benchmark::State& st) { RunAttention(st, kTiny, MHA_F32, 1); }
void BM_LongCausal_F32(benchmark::State& st) { RunAttention(st, kLong, MHA_F32, 1); }
void BM_CallOverhead_F32(benchmark::State& st) { RunAttention(st, kOneByEight, MHA_F32, 1); }
// One cache per layer of a 32-layer model: 512 MiB of bf16 K/V, far beyond the LLC.
void BM_Decode_BF16(benchmark::State& st) { RunAttention(st, kDecode, MHA_BF16, 32); }
// The same from cache: the compute ceiling of the decode kernels.
void BM_DecodeHot_BF16(benchmark::State& st) { RunAttention(st, kDecode, MHA_BF16, 1); }
void BM_DecodeBatch_BF16(benchmark::State& st) { RunAttention(st, kDecodeBatch, MHA_BF16, 4); }

BENCHMARK(BM_Prefill_F32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Prefill_BF16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PrefillCausal_F32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PrefillCausal_BF16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Bert_F32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LongCausal_F32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Tiny_F32)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_CallOverhead_F32)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Decode_BF16)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_DecodeHot_BF16)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_DecodeBatch_BF16)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
