#include "linear.h"

#include <cstdio>
#include <memory>
#include <unordered_map>
#include <vector>

#include "linear_rows.h"
#include "mha/kit/dtype.h"
#include "omp_threads.h"

namespace mha {
namespace onednn {
namespace {

using dnnl::memory;
using Dtype = memory::data_type;

// The M that oneDNN picks the weights format for. brgemm chose one format for every
// M from 1 to 5000 (f32 and bf16, checked on Zen 4), so all M share one packed copy.
constexpr int64_t kRepresentativeRows = 1024;

struct PackedLinear {
  int64_t n = 0, k = 0;
  Dtype src_dtype = Dtype::f32;  // what the matmul reads: x and the weights
  memory::desc weights_desc;     // the format oneDNN picked
  Buffer weights;                // reordered once, then only read
  void* weights_data = nullptr;
  std::vector<float> bias;  // [n] or empty
  // One matmul per M (and thread count); thread-safe.
  mutable PrimitiveCache primitives;
};

memory::desc Dense(int64_t rows, int64_t cols, Dtype dtype) {
  return memory::desc({rows, cols}, dtype, {cols, 1});
}

memory::desc BiasDesc(const PackedLinear& w) {
  return w.bias.empty() ? memory::desc() : Dense(1, w.n, Dtype::f32);
}

dnnl::matmul::primitive_desc MatmulPd(const dnnl::engine& engine, const memory::desc& src,
                                      const memory::desc& weights, const memory::desc& bias,
                                      const memory::desc& dst) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
#if DNNL_VERSION_MAJOR >= 3
  return dnnl::matmul::primitive_desc(engine, src, weights, bias, dst, attr);
#else
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, bias, dst), attr, engine);
#endif
}

}  // namespace

mha_status LinearCreate(EngineState& state, const mha_linear_desc& desc, void** linear) {
  auto packed = std::make_unique<PackedLinear>();
  PackedLinear& w = *packed;
  w.n = desc.out_features;
  w.k = desc.in_features;
  if (desc.bias) w.bias.assign(desc.bias, desc.bias + w.n);
  const bool native_bf16 = desc.weight_dtype == MHA_BF16 && state.fast_bf16;
  w.src_dtype = native_bf16 ? Dtype::bf16 : Dtype::f32;

  const void* weights = desc.weight;
  int64_t row_stride = desc.weight_row_stride;
  std::vector<float> widened;
  if (desc.weight_dtype != MHA_F32 && !native_bf16) {
    widened.resize(static_cast<size_t>(w.n * w.k));
    for (int64_t n = 0; n < w.n; ++n) {
      for (int64_t k = 0; k < w.k; ++k) {
        widened[n * w.k + k] = LoadAsF32(desc.weight, desc.weight_dtype, n * row_stride + k);
      }
    }
    weights = widened.data();
    row_stride = w.k;
  }
  // The matmul's weights are [K, N]: nn.Linear's [N, K] rows are its columns.
  const memory::desc any({w.k, w.n}, w.src_dtype, memory::format_tag::any);
  const auto pd = MatmulPd(state.engine, Dense(kRepresentativeRows, w.k, w.src_dtype), any,
                           BiasDesc(w), Dense(kRepresentativeRows, w.n, Dtype::f32));
  w.weights_desc = pd.weights_desc();
  w.weights_data = w.weights.Reserve(w.weights_desc.get_size());
  memory from(memory::desc({w.k, w.n}, w.src_dtype, {1, row_stride}), state.engine,
              const_cast<void*>(weights));
  memory to(w.weights_desc, state.engine, w.weights_data);
  dnnl::stream stream(state.engine);
  dnnl::reorder(from, to).execute(stream, from, to);
  stream.wait();
  *linear = packed.release();
  return MHA_OK;
}

void LinearDestroy(void* linear) { delete static_cast<PackedLinear*>(linear); }

mha_status LinearForward(EngineState& state, const void* linear, const mha_linear_call& c,
                         mha_backend_report* report) {
  const PackedLinear& w = *static_cast<const PackedLinear*>(linear);
  const DenseRows rows = MapRows(c);
  const int64_t m = rows.count;
  if (m == 0) {
    std::snprintf(report->impl, sizeof report->impl, "onednn:none");
    return MHA_OK;
  }
  const OmpThreads omp_threads(c.num_threads);  // also for the primitive's creation
  const auto prim = w.primitives.Get({m, c.num_threads}, [&] {
    const auto pd = MatmulPd(state.engine, Dense(m, w.k, w.src_dtype), w.weights_desc,
                             BiasDesc(w), Dense(m, w.n, Dtype::f32));
    return CachedPrimitive{dnnl::matmul(pd), pd.scratchpad_desc().get_size(),
                           pd.impl_info_str()};
  });
  const WorkspacePool::Lease lease = state.workspaces.Acquire();
  Workspace& ws = *lease;

  // x as it is when it already is the dense [M, K] the matmul reads, else gathered
  // (into the attention's Q staging buffer, which this call does not need).
  const bool to_bf16 = w.src_dtype == Dtype::bf16;
  const bool direct_x = rows.every_row && c.x_dtype == (to_bf16 ? MHA_BF16 : MHA_F32) &&
                        PackedRows(c, c.x_batch_stride, c.x_seq_stride, w.k);
  void* src = const_cast<void*>(c.x);
  if (!direct_x) {
    src = ws.q_staged.Reserve(static_cast<size_t>(m * w.k) * (to_bf16 ? 2 : 4));
    GatherInput(c, rows, w.k, to_bf16, src);
  }
  // The product straight into y when y is that dense f32 [M, N] and nothing is left
  // to do on it, else into a dense f32 workspace for the epilogue.
  const bool direct_y = rows.every_row && c.y_dtype == MHA_F32 && c.rope == MHA_ROPE_NONE &&
                        !c.seq_offsets && (c.head_dim == w.n || c.y_head_stride == c.head_dim) &&
                        PackedRows(c, c.y_batch_stride, c.y_seq_stride, w.n);
  float* product = direct_y ? static_cast<float*>(c.y)
                            : ws.out_staged.Reserve<float>(static_cast<size_t>(m * w.n));

  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, memory(Dense(m, w.k, w.src_dtype), state.engine, src)},
      {DNNL_ARG_WEIGHTS, memory(w.weights_desc, state.engine, w.weights_data)},
      {DNNL_ARG_DST, memory(Dense(m, w.n, Dtype::f32), state.engine, product)}};
  if (!w.bias.empty()) {
    args[DNNL_ARG_BIAS] =
        memory(BiasDesc(w), state.engine, const_cast<float*>(w.bias.data()));
  }
  if (prim->scratchpad_bytes > 0) {
    const memory::dim bytes = static_cast<memory::dim>(prim->scratchpad_bytes);
    args[DNNL_ARG_SCRATCHPAD] = memory(memory::desc({bytes}, Dtype::u8, {1}), state.engine,
                                       ws.scratchpad.Reserve(prim->scratchpad_bytes));
  }
  dnnl::stream stream(state.engine);
  prim->primitive.execute(stream, args);
  stream.wait();
  if (!direct_y) StoreOutput(c, rows, w.n, product);
  std::snprintf(report->impl, sizeof report->impl, "onednn:%s", prim->impl.c_str());
  return MHA_OK;
}

}  // namespace onednn
}  // namespace mha
