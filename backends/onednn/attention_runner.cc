#include "attention_runner.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "dnnl_compat.h"
#include "mha/kit/dtype.h"
#include "mha/kit/mask.h"
#include "mha/kit/tensor_view.h"
#include "omp_threads.h"
#include "row_ops.h"

namespace mha {
namespace onednn {
namespace {

using dnnl::memory;
using Dtype = memory::data_type;

constexpr int64_t kMatmulKind = 0, kSoftmaxKind = 1;

// Calls of at most kRuntimeKeysMaxRows queries (decode): a chunk's scores should stay
// in L2 (1 MiB per core where we measure) ...
constexpr int64_t kCacheTarget = int64_t{1} << 20;
// ... unless that leaves the matmuls fewer rows than this; then the budget rules.
constexpr int64_t kMinRows = 64;
// Longer calls (prefill) copy Q, K, V and out dense and head-major (oneDNN 2.6 runs its
// brgemm matmul only on dense operands; strided BSHD views run as gemm:jit) and take
// chunks of one kv head with as many rows as the budget holds, up to every row: the
// matmul -> softmax -> matmul of plain oneDNN over whole rows, with the scores out of
// cache but few, large calls. A causal or windowed call caps its chunks at this many
// rows, so that the keys a chunk computes and the mask then hides stay few: 128
// measured fastest of 128, 256 and 512 on prefill-causal, f32 and bf16.
constexpr int64_t kMaskedChunkRows = 128;
// Calls of at most this many queries (decode, speculative decode) give the matmuls a
// run-time key count, so that a decode loop whose key length grows by one each step
// reuses one pair of matmuls (see Plan::runtime_keys).
constexpr int64_t kRuntimeKeysMaxRows = 16;
constexpr int64_t kRuntime = DNNL_RUNTIME_DIM_VAL;
// Such calls widen K and V (bf16, f16 on CPUs without a fast bf16 matmul) one block of
// keys at a time, about this many bytes of f32 per operand (an L2 here), so that the
// matmul reads the widened block from cache rather than a widened copy of the whole
// cache from memory: on the decode shape, blocks of 512 KiB to 2 MiB measured alike and
// far faster than widening the whole cache.
constexpr int64_t kStagedBlockBytes = int64_t{1} << 20;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t RoundUp(int64_t a, int64_t b) { return CeilDiv(a, b) * b; }

// The scores row stride, and so the softmax width, of a run-time key count: rounded up
// to 1/8 of a power of two (at least 64), so that a growing key length crosses one
// width every 64 keys below 1024, every 128 below 2048, ..., at most 1/8 extra.
int64_t SoftmaxWidth(int64_t keys) {
  int64_t pow2 = 1;
  while (pow2 * 2 <= keys) pow2 *= 2;
  return RoundUp(keys, std::max<int64_t>(64, pow2 / 8));
}

int64_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// How a call maps onto primitives; fixed by the problem's shape and dtypes.
struct Plan {
  int64_t group = 1;                        // query heads per kv head
  Dtype qk_dtype = Dtype::f32;              // what the Q K^T matmul reads
  Dtype pv_dtype = Dtype::f32;              // what the P V matmul reads
  bool dense = false;                       // prefill: every operand copied dense
  bool stage_q = false, stage_k = false;    // copied head-major first, in qk_dtype / pv_dtype
  bool stage_v = false, stage_out = false;  // (out: written in f32, then stored)
  bool mask_pass = false;
  // Nothing for our row passes to do when the inputs are finite: no mask, no lse, no
  // probs (a chunk whose staged Q and K hold an Inf or NaN still takes them).
  bool row_passes_optional = false;
  // The matmuls take the key count (and the scores row stride) at execution, so one
  // pair serves every key length; only the softmax is created per SoftmaxWidth. Run-time
  // dims cost oneDNN its brgemm kernels (gemm:jit runs them, as it runs every f32
  // matmul on AVX2 anyway) and its bf16 matmul is slow there, so only few-query f32
  // calls use them.
  bool runtime_keys = false;
  // With runtime_keys: K and V are widened and multiplied in blocks of this many keys
  // (0: widened once per batch entry, when staged at all).
  int64_t key_block = 0;
  int64_t chunk_rows = 1;      // queries per chunk
  int64_t chunk_kv_heads = 1;  // kv heads (each with its group of query heads) per chunk
  int64_t key_granule = 1;     // a chunk's key span is rounded up to this (fewer shapes)
};

// Whether t's rows and heads address disjoint elements, as a oneDNN memory descriptor
// must: a zero stride or overlapping rows or heads (valid views) need a dense copy.
bool Disjoint(const mha_tensor& t) {
  struct Axis {
    int64_t stride, size;
  } axes[2] = {{t.strides[1], t.dims[1]}, {t.strides[2], t.dims[2]}};
  if (axes[0].stride > axes[1].stride) std::swap(axes[0], axes[1]);
  int64_t extent = t.dims[3];  // the contiguous head_dim
  for (const Axis& a : axes) {
    if (a.size == 1) continue;
    if (a.stride < extent) return false;
    extent += a.stride * (a.size - 1);
  }
  return true;
}

Plan MakePlan(const EngineState& state, const mha_problem& p) {
  Plan plan;
  plan.group = p.num_heads / p.num_kv_heads;
  // oneDNN's matmul reads one dtype for both inputs and has no f16 matmul on CPUs
  // without avx512_fp16, and its bf16 matmul is slower than f32 where it is not
  // brgemm; everything else is widened to f32, which is exact.
  const bool qk_bf16 = state.fast_bf16 && p.q.dtype == MHA_BF16 && p.k.dtype == MHA_BF16;
  plan.dense = p.q_len > kRuntimeKeysMaxRows;
  plan.qk_dtype = qk_bf16 ? Dtype::bf16 : Dtype::f32;
  plan.stage_q = plan.dense || (!qk_bf16 && p.q.dtype != MHA_F32) || !Disjoint(p.q);
  plan.stage_k = plan.dense || (!qk_bf16 && p.k.dtype != MHA_F32) || !Disjoint(p.k);
  const bool pv_bf16 = state.fast_bf16 && p.v.dtype == MHA_BF16;
  plan.pv_dtype = pv_bf16 ? Dtype::bf16 : Dtype::f32;
  plan.stage_v = plan.dense || (!pv_bf16 && p.v.dtype != MHA_F32) || !Disjoint(p.v);
  plan.runtime_keys = p.q_len <= kRuntimeKeysMaxRows && !qk_bf16 && !pv_bf16;
  plan.stage_out = plan.dense || p.out.dtype == MHA_F16 ||
                   (!pv_bf16 && p.out.dtype != MHA_F32) || !Disjoint(p.out);
  plan.mask_pass = p.causal || p.window_left >= 0 || p.window_right >= 0 || p.kv_lens ||
                   p.q_lens || p.has_bias || p.alibi_slopes;
  plan.row_passes_optional = plan.dense && !plan.mask_pass && !p.lse && !p.probs;

  // Bytes of scores (softmaxed in place) per query row of one kv head's group.
  const int64_t row_keys = plan.runtime_keys ? SoftmaxWidth(p.kv_len) : p.kv_len;
  const int64_t group_row_bytes = plan.group * row_keys * (pv_bf16 ? 6 : 4);
  const int64_t budget = static_cast<int64_t>(state.scores_budget);
  if (plan.dense) {
    int64_t rows = budget / group_row_bytes;
    if (p.causal || p.window_left >= 0 || p.window_right >= 0) {
      rows = std::min(rows, kMaskedChunkRows);
    }
    rows = std::clamp<int64_t>(rows, 1, p.q_len);
    plan.chunk_rows = CeilDiv(p.q_len, CeilDiv(p.q_len, rows));  // equal chunks
    plan.chunk_kv_heads = 1;
  } else {
    const int64_t target = std::min(kCacheTarget, budget);
    int64_t rows = target / group_row_bytes;
    if (rows < std::min(p.q_len, kMinRows)) rows = std::min(kMinRows, budget / group_row_bytes);
    rows = std::clamp<int64_t>(rows, 1, p.q_len);
    plan.chunk_rows = CeilDiv(p.q_len, CeilDiv(p.q_len, rows));  // equal chunks
    const int64_t kv_heads =
        std::clamp<int64_t>(target / (group_row_bytes * plan.chunk_rows), 1, p.num_kv_heads);
    plan.chunk_kv_heads = CeilDiv(p.num_kv_heads, CeilDiv(p.num_kv_heads, kv_heads));
  }
  plan.key_granule = std::max<int64_t>(64, RoundUp(CeilDiv(p.kv_len, 16), 64));
  if (plan.runtime_keys && (plan.stage_k || plan.stage_v)) {
    const int64_t key_bytes = plan.chunk_kv_heads * std::max(p.head_dim, p.v_head_dim) * 4;
    plan.key_block = std::max<int64_t>(64, kStagedBlockBytes / key_bytes / 64 * 64);
  }
  return plan;
}

// A [B, S, H, D] tensor from element [b, s, 0, 0] on, as the matmuls read it.
struct View {
  char* base;
  Dtype dtype;
  int64_t row_stride, head_stride;  // elements
};

Dtype DnnlType(mha_dtype t) {
  switch (t) {
    case MHA_BF16: return Dtype::bf16;
    case MHA_F16: return Dtype::f16;
    default: return Dtype::f32;
  }
}

View ViewOf(const mha_tensor& t, int64_t b, int64_t s, int64_t h) {
  char* base = static_cast<char*>(t.data) +
               (b * t.strides[0] + s * t.strides[1] + h * t.strides[2]) * DtypeSize(t.dtype);
  return View{base, DnnlType(t.dtype), t.strides[1], t.strides[2]};
}

// Copies rows x heads x dim of `t` from [b, s, h, 0] on into `buffer` as `dtype` (f32,
// or bf16 from bf16), head-major, so that each head's rows are contiguous for the
// matmuls; heads start head_rows (>= rows, default rows) rows apart. *finite (when
// given) says whether every element copied is finite.
View Staged(const mha_tensor& t, int64_t b, int64_t s, int64_t h, int64_t rows, int64_t heads,
            int64_t dim, Buffer* buffer, int num_threads, Dtype dtype, int64_t head_rows = 0,
            bool* finite = nullptr) {
  if (head_rows < rows) head_rows = rows;
  const View from = ViewOf(t, b, s, h);
  const size_t size = memory::data_type_size(dtype);
  char* to =
      static_cast<char*>(buffer->Reserve(static_cast<size_t>(head_rows * heads * dim) * size));
  const bool all_finite =
      CopyBlock(Block{from.base, t.dtype, from.row_stride, from.head_stride}, rows, heads, dim,
                head_rows, to, dtype == Dtype::bf16, num_threads);
  if (finite) *finite = all_finite;
  return View{to, dtype, dim, head_rows * dim};
}

View Shifted(View v, int64_t rows, int64_t heads) {
  v.base += (rows * v.row_stride + heads * v.head_stride) *
            static_cast<int64_t>(memory::data_type_size(v.dtype));
  return v;
}

// Q or out rows of a chunk as {Hkv, group, rows, dim}. A single row folds the group
// into the M axis ({Hkv, 1, group, dim}) so that decode multiplies `group` rows at once.
TensorSpec RowsSpec(const View& v, const Plan& plan, int64_t kv_heads, int64_t rows, int64_t dim) {
  const int64_t g = plan.group, hs = v.head_stride;
  if (rows == 1) return {{kv_heads, 1, g, dim}, {g * hs, g * hs, hs, 1}, v.dtype};
  return {{kv_heads, g, rows, dim}, {g * hs, hs, v.row_stride, 1}, v.dtype};
}

// A chunk's [heads, rows, keys] scores with rows `stride` apart, split
// {kv heads, a, m, keys} as RowsSpec. keys and stride may be kRuntime.
TensorSpec ScoresSpec(const Plan& plan, int64_t kv_heads, int64_t rows, int64_t keys,
                      int64_t stride, Dtype dtype) {
  const int64_t a = rows == 1 ? 1 : plan.group, m = rows == 1 ? plan.group : rows;
  if (stride == kRuntime) return {{kv_heads, a, m, keys}, {kRuntime, kRuntime, kRuntime, 1}, dtype};
  return {{kv_heads, a, m, keys}, {a * m * stride, m * stride, stride, 1}, dtype};
}

// K^T of each kv head, broadcast over its group: {Hkv, 1, D, keys}.
TensorSpec KeysTransposedSpec(const View& k, int64_t kv_heads, int64_t dim, int64_t keys) {
  return {{kv_heads, 1, dim, keys}, {k.head_stride, k.head_stride, 1, k.row_stride}, k.dtype};
}

TensorSpec ValuesSpec(const View& v, int64_t kv_heads, int64_t keys, int64_t dim) {
  return {{kv_heads, 1, keys, dim}, {v.head_stride, v.head_stride, v.row_stride, 1}, v.dtype};
}

std::shared_ptr<const CachedPrimitive> Matmul(EngineState& state, const TensorSpec& src,
                                              const TensorSpec& weights, const TensorSpec& dst,
                                              float scale, float softcap, int num_threads,
                                              bool accumulate = false) {
  // Some implementations fix their thread split when created.
  PrimitiveKey key{kMatmulKind, num_threads, FloatBits(scale), FloatBits(softcap), accumulate};
  src.AppendTo(&key);
  weights.AppendTo(&key);
  dst.AppendTo(&key);
  return state.primitives.Get(key, [&] {
    const auto pd = MakeMatmulPd(state.engine, src.Desc(), weights.Desc(), dst.Desc(), scale,
                                 softcap, accumulate);
    return CachedPrimitive{dnnl::matmul(pd), pd.scratchpad_desc().get_size(), pd.impl_info_str()};
  });
}

std::shared_ptr<const CachedPrimitive> Softmax(EngineState& state, const TensorSpec& src,
                                               const TensorSpec& dst, int num_threads) {
  PrimitiveKey key{kSoftmaxKind, num_threads};
  src.AppendTo(&key);
  dst.AppendTo(&key);
  return state.primitives.Get(key, [&] {
    const auto pd = MakeSoftmaxPd(state.engine, src.Desc(), dst.Desc());
    return CachedPrimitive{dnnl::primitive(pd), pd.scratchpad_desc().get_size(),
                           pd.impl_info_str()};
  });
}

// Runs cached primitives of one call on its stream, with the call's scratchpad.
class ChunkExecutor {
 public:
  ChunkExecutor(EngineState& state, Workspace& workspace)
      : state_(state), workspace_(workspace), stream_(state.engine) {}

  memory Memory(const TensorSpec& spec, const void* data) const {
    return memory(spec.Desc(), state_.engine, const_cast<void*>(data));
  }

  void Execute(const CachedPrimitive& prim, std::unordered_map<int, memory> args) {
    if (prim.scratchpad_bytes > 0) {
      const memory::dim bytes = static_cast<memory::dim>(prim.scratchpad_bytes);
      args[DNNL_ARG_SCRATCHPAD] = memory(memory::desc({bytes}, Dtype::u8, {1}), state_.engine,
                                         workspace_.scratchpad.Reserve(prim.scratchpad_bytes));
    }
    prim.primitive.execute(stream_, args);
    stream_.wait();
  }

 private:
  EngineState& state_;
  Workspace& workspace_;
  dnnl::stream stream_;
};

// Which keys of one batch entry hold an Inf or NaN in V (any kv head), counted once
// for the entry, the first time a chunk asks, so that any range is checked in O(1).
class NonFiniteValues {
 public:
  NonFiniteValues(const mha_problem& p, std::vector<int64_t>* before) : p_(p), before_(*before) {}
  void Start(int64_t batch) {
    batch_ = batch;
    counted_ = false;
  }
  bool Any(int64_t begin, int64_t end) {
    if (begin >= end) return false;
    if (!counted_) Count();
    return before_[end] != before_[begin];
  }

 private:
  void Count() {
    before_.assign(static_cast<size_t>(p_.kv_len + 1), 0);
    for (int64_t j = 0; j < p_.kv_len; ++j) {
      const char* v = static_cast<const char*>(p_.v.data);
      bool finite = true;
      for (int64_t g = 0; g < p_.num_kv_heads && finite; ++g) {
        const char* row = v + RowOffset(p_.v, batch_, j, g) * DtypeSize(p_.v.dtype);
        finite = RowFinite(row, p_.v.dtype, p_.v_head_dim);
      }
      before_[j + 1] = before_[j] + (finite ? 0 : 1);
    }
    counted_ = true;
  }

  const mha_problem& p_;
  std::vector<int64_t>& before_;  // [kv_len + 1]: keys before j with a non-finite V
  int64_t batch_ = 0;
  bool counted_ = false;
};

// One chunk: `k` and `v` start at its first key and kv head.
// `k_finite`: the chunk's K holds no Inf or NaN.
void RunChunk(EngineState& state, const Plan& plan, const mha_problem& p, const Chunk& c,
              const View& k, const View& v, bool k_finite, Workspace* ws,
              ChunkExecutor* executor, std::string impl_parts[2]) {
  const int nt = p.num_threads;
  const int64_t kc = c.heads / plan.group, d = p.head_dim, dv = p.v_head_dim;
  bool q_finite = false;
  const View q = plan.stage_q ? Staged(p.q, c.batch, c.row_begin, c.head_begin, c.rows, c.heads, d,
                                       &ws->q_staged, nt, plan.qk_dtype, 0, &q_finite)
                              : ViewOf(p.q, c.batch, c.row_begin, c.head_begin);
  // Finite Q and K give finite logits (short of overflow): every row has a finite
  // maximum, and with no mask, lse or probs our row passes would change nothing.
  const bool row_passes = !(plan.row_passes_optional && q_finite && k_finite);
  // Out staged head-major (each head's rows contiguous, as the matmul writes it dense).
  const View out =
      plan.stage_out
          ? View{static_cast<char*>(ws->out_staged.Reserve(c.rows * c.heads * dv * sizeof(float))),
                 Dtype::f32, dv, c.rows * dv}
          : ViewOf(p.out, c.batch, c.row_begin, c.head_begin);

  // What the memories hold, and what the matmuls are created for: the same, or with
  // the key count and scores stride left to execution (plan.runtime_keys). K and V are
  // multiplied in blocks of keys when they are widened block by block (plan.key_block),
  // else in one.
  const int64_t stride = plan.runtime_keys ? kRuntime : c.stride;
  const int64_t block = plan.key_block > 0 ? plan.key_block : c.keys;
  const bool stage_k = plan.key_block > 0 && plan.stage_k;
  const bool stage_v = plan.key_block > 0 && plan.stage_v;
  // A block of K or V as the matmuls read it: in place, or widened to f32 head-major
  // with heads `block` rows apart, so that every block has the same strides.
  const auto key_block = [&](const mha_tensor& t, const View& in_place, bool staged, int64_t j0,
                             int64_t n, int64_t dim, Buffer* buffer) {
    return staged ? Staged(t, c.batch, c.key_begin + j0, c.head_begin / plan.group, n, kc, dim,
                           buffer, nt, Dtype::f32, block)
                  : Shifted(in_place, j0, 0);
  };
  const View k0 = key_block(p.k, k, stage_k, 0, std::min(block, c.keys), d, &ws->k_staged);
  const View v_layout = stage_v ? View{nullptr, Dtype::f32, dv, block * dv} : v;
  const TensorSpec q_spec = RowsSpec(q, plan, kc, c.rows, d);
  const TensorSpec softmax_spec{{c.heads * c.rows, c.stride}, {c.stride, 1}, Dtype::f32};
  const TensorSpec o_spec = RowsSpec(out, plan, kc, c.rows, dv);
  const int64_t first_block = std::min(block, c.keys);
  const int64_t block_keys = plan.runtime_keys ? kRuntime : first_block;
  const auto qk =
      Matmul(state, q_spec, KeysTransposedSpec(k0, kc, d, block_keys),
             ScoresSpec(plan, kc, c.rows, block_keys, stride, Dtype::f32), p.scale, p.softcap, nt);
  // Without our row passes the softmax writes P straight in the P V matmul's dtype.
  const bool direct_probs16 = !row_passes && plan.pv_dtype == Dtype::bf16;
  const TensorSpec softmax_dst_spec{softmax_spec.dims, softmax_spec.strides, Dtype::bf16};
  const auto softmax = direct_probs16 ? Softmax(state, softmax_spec, softmax_dst_spec, nt)
                                      : Softmax(state, softmax_spec, softmax_spec, nt);
  const TensorSpec pv_src_spec = ScoresSpec(plan, kc, c.rows, block_keys, stride, plan.pv_dtype);
  const TensorSpec pv_weights_spec = ValuesSpec(v_layout, kc, block_keys, dv);
  const auto pv = Matmul(state, pv_src_spec, pv_weights_spec, o_spec, 1.0f, 0.0f, nt);
  // Later blocks add their part of P V to out.
  const auto pv_add = block < c.keys ? Matmul(state, pv_src_spec, pv_weights_spec, o_spec, 1.0f,
                                              0.0f, nt, /*accumulate=*/true)
                                     : pv;

  const size_t count = static_cast<size_t>(c.heads * c.rows * c.stride);
  float* scores = ws->scores.Reserve<float>(count);
  float* row_max = ws->row_max.Reserve<float>(static_cast<size_t>(c.heads * c.rows));
  const memory q_memory = executor->Memory(q_spec, q.base);
  for (int64_t j0 = 0; j0 < c.keys; j0 += block) {
    const int64_t n = std::min(block, c.keys - j0);
    const View kb = j0 == 0 ? k0 : key_block(p.k, k, stage_k, j0, n, d, &ws->k_staged);
    executor->Execute(
        *qk, {{DNNL_ARG_SRC, q_memory},
              {DNNL_ARG_WEIGHTS, executor->Memory(KeysTransposedSpec(kb, kc, d, n), kb.base)},
              {DNNL_ARG_DST, executor->Memory(ScoresSpec(plan, kc, c.rows, n, c.stride, Dtype::f32),
                                              scores + j0)}});
  }
  if (row_passes) PrepareRows(p, c, plan.mask_pass, scores, row_max, nt);
  const memory scores_memory = executor->Memory(softmax_spec, scores);
  float* probs = scores;
  const char* pv_src = reinterpret_cast<const char*>(probs);
  if (direct_probs16) {
    uint16_t* probs16 = ws->probs16.Reserve<uint16_t>(count);
    executor->Execute(*softmax, {{DNNL_ARG_SRC, scores_memory},
                                 {DNNL_ARG_DST, executor->Memory(softmax_dst_spec, probs16)}});
    pv_src = reinterpret_cast<const char*>(probs16);
  } else {
    executor->Execute(*softmax, {{DNNL_ARG_SRC, scores_memory}, {DNNL_ARG_DST, scores_memory}});
    if (row_passes) FinishRows(p, c, probs, row_max, nt);
  }
  if (!direct_probs16 && plan.pv_dtype == Dtype::bf16) {
    uint16_t* probs16 = ws->probs16.Reserve<uint16_t>(count);
    ConvertToBf16(probs, static_cast<int64_t>(count), probs16, nt);
    pv_src = reinterpret_cast<const char*>(probs16);
  }
  const memory out_memory = executor->Memory(o_spec, out.base);
  const int64_t p_size = static_cast<int64_t>(memory::data_type_size(plan.pv_dtype));
  for (int64_t j0 = 0; j0 < c.keys; j0 += block) {
    const int64_t n = std::min(block, c.keys - j0);
    const View vb = key_block(p.v, v, stage_v, j0, n, dv, &ws->v_staged);
    executor->Execute(
        j0 == 0 ? *pv : *pv_add,
        {{DNNL_ARG_SRC, executor->Memory(ScoresSpec(plan, kc, c.rows, n, c.stride, plan.pv_dtype),
                                         pv_src + j0 * p_size)},
         {DNNL_ARG_WEIGHTS, executor->Memory(ValuesSpec(vb, kc, n, dv), vb.base)},
         {DNNL_ARG_DST, out_memory}});
  }
  if (plan.stage_out) {
    const View to = ViewOf(p.out, c.batch, c.row_begin, c.head_begin);
    StoreBlockFromF32(reinterpret_cast<const float*>(out.base), c.rows, c.heads, dv,
                      Block{to.base, p.out.dtype, to.row_stride, to.head_stride}, nt);
  }
  impl_parts[0] = qk->impl;
  impl_parts[1] = pv->impl;
}

}  // namespace

void RunAttention(EngineState& state, const mha_problem& p, std::string* impl) {
  const Plan plan = MakePlan(state, p);
  const int nt = p.num_threads;
  const OmpThreads omp_threads(nt);
  const WorkspacePool::Lease lease = state.workspaces.Acquire();
  Workspace& ws = *lease;
  ChunkExecutor executor(state, ws);
  const int64_t hq = p.num_heads, hkv = p.num_kv_heads, lk = p.kv_len;
  const int64_t d = p.head_dim, dv = p.v_head_dim;
  std::vector<KeyRange> visible(static_cast<size_t>(plan.chunk_rows));
  std::vector<int64_t> non_finite_before;
  NonFiniteValues non_finite(p, &non_finite_before);
  std::string impl_parts[2];  // what the two matmuls ran on

  for (int64_t b = 0; b < p.batch; ++b) {
    non_finite.Start(b);
    // Widened once per batch entry, unless RunChunk widens them block by block.
    const bool stage_k = plan.stage_k && plan.key_block == 0;
    const bool stage_v = plan.stage_v && plan.key_block == 0;
    bool k_finite = false;
    const View k = stage_k ? Staged(p.k, b, 0, 0, lk, hkv, d, &ws.k_staged, nt, plan.qk_dtype, 0,
                                    &k_finite)
                           : ViewOf(p.k, b, 0, 0);
    const View v = stage_v ? Staged(p.v, b, 0, 0, lk, hkv, dv, &ws.v_staged, nt, plan.pv_dtype)
                           : ViewOf(p.v, b, 0, 0);
    // The rows [i0, i0 + rows) over the keys some row of them sees, `span`.
    const auto run = [&](int64_t i0, int64_t rows, const KeyRange* row_keys, KeyRange span) {
      Chunk c;
      c.batch = b;
      c.row_begin = i0;
      c.rows = rows;
      c.visible = row_keys;
      if (span.empty()) {
        c.heads = hq;
        WriteForbiddenChunk(p, c);
        return;
      }
      if (plan.runtime_keys) {
        // Exactly the keys some row of the chunk sees; the scores rows are padded.
        c.keys = span.end - span.begin;
        c.key_begin = span.begin;
        c.stride = SoftmaxWidth(c.keys);
      } else {
        // Only the keys some row of the chunk sees, rounded up to a few distinct widths,
        // unless a key the rounding adds has a non-finite V: its weight 0 would still
        // make the output NaN, so the chunk then takes exactly the visible keys.
        c.keys = std::min(lk, RoundUp(span.end - span.begin, plan.key_granule));
        c.key_begin = std::min(span.begin, lk - c.keys);
        if (non_finite.Any(c.key_begin, span.begin) ||
            non_finite.Any(span.end, c.key_begin + c.keys)) {
          c.keys = span.end - span.begin;
          c.key_begin = span.begin;
        }
        c.stride = c.keys;
      }
      for (int64_t g0 = 0; g0 < hkv; g0 += plan.chunk_kv_heads) {
        const int64_t kc = std::min(plan.chunk_kv_heads, hkv - g0);
        c.head_begin = g0 * plan.group;
        c.heads = kc * plan.group;
        RunChunk(state, plan, p, c, Shifted(k, c.key_begin, g0), Shifted(v, c.key_begin, g0),
                 k_finite, &ws, &executor, impl_parts);
      }
    };
    for (int64_t i0 = 0; i0 < p.q_len; i0 += plan.chunk_rows) {
      const int64_t rows = std::min(plan.chunk_rows, p.q_len - i0);
      KeyRange span{lk, 0};
      bool same_keys = true;
      for (int64_t r = 0; r < rows; ++r) {
        visible[r] = VisibleKeys(p, b, i0 + r);
        same_keys = same_keys && visible[r].begin == visible[0].begin &&
                    visible[r].end == visible[0].end;
        if (visible[r].empty()) continue;
        span.begin = std::min(span.begin, visible[r].begin);
        span.end = std::max(span.end, visible[r].end);
      }
      if (!same_keys && non_finite.Any(span.begin, span.end)) {
        // A row's zero weight would multiply a non-finite V at a key it does not see:
        // the rows go one at a time, each over exactly its keys.
        for (int64_t r = 0; r < rows; ++r) run(i0 + r, 1, &visible[r], visible[r]);
      } else {
        run(i0, rows, visible.data(), span);
      }
    }
  }
  // Widened to f32 somewhere (the dense copies of prefill are no conversion).
  const auto widened = [](mha_dtype from, Dtype to) { return DnnlType(from) != to; };
  const bool staged = (plan.stage_q && widened(p.q.dtype, plan.qk_dtype)) ||
                      (plan.stage_k && widened(p.k.dtype, plan.qk_dtype)) ||
                      (plan.stage_v && widened(p.v.dtype, plan.pv_dtype)) ||
                      (plan.stage_out && p.out.dtype != MHA_F32 &&
                       !(p.out.dtype == MHA_BF16 && plan.pv_dtype == Dtype::bf16 && plan.dense));
  const std::string& qk_impl = impl_parts[0];
  *impl = qk_impl.empty() ? "none" : qk_impl;
  if (impl_parts[1] != qk_impl) *impl += "/" + impl_parts[1];
  if (staged) *impl += "+f32cvt";
}

}  // namespace onednn
}  // namespace mha
