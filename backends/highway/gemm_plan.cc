#include "gemm_plan.h"

#include <algorithm>
#include <numeric>

#include "mha/kit/linear_call.h"

namespace mha {
namespace {

constexpr int64_t kFloatAlign = 16;  // 64 bytes

int64_t RoundUp(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// Feature blocks with RoPE hold whole heads, so that a rotated pair is in one block.
int64_t FeatureBlock(const GemmLayer& layer, const mha_linear_call& call) {
  const int64_t all = RoundUp(layer.n, layer.tile.nr);
  if (call.rope == MHA_ROPE_NONE) return std::min(kGemmFeatureBlock, all);
  const int64_t unit = std::lcm(layer.tile.nr, call.head_dim);
  if (unit >= layer.n) return all;
  return std::min(all, unit * std::max<int64_t>(1, kGemmFeatureBlock / unit));
}

}  // namespace

GemmPlan MakeGemmPlan(const GemmLayer& layer, const mha_linear_call& call) {
  GemmPlan plan;
  plan.layer = &layer;
  plan.call = &call;
  for (int64_t b = 0; b < call.batch; ++b) plan.rows += LinearRows(call, b);
  const int64_t mr = layer.tile.mr;
  const bool pairs = layer.kind == GemmKind::kBf16Pairs;
  plan.mc = std::min(kGemmRowBlock / mr * mr, RoundUp(std::max<int64_t>(plan.rows, 1), mr));
  plan.nc = FeatureBlock(layer, call);
  plan.kc = plan.rows <= kGemvMaxRows ? layer.k
                                      : std::min(layer.k, kGemmDepthBlock * (pairs ? 2 : 1));
  plan.row_blocks = (plan.rows + plan.mc - 1) / plan.mc;
  plan.feature_blocks = (layer.n + plan.nc - 1) / plan.nc;
  plan.a_stride = RoundUp(plan.kc, kFloatAlign);
  plan.scratch_floats = RoundUp(plan.mc * plan.nc + plan.mc * plan.a_stride, kFloatAlign);
  plan.rope_half = call.rope != MHA_ROPE_NONE ? call.rope_dims / 2 : 0;
  // f32 tiles read f32 x in place, unless its rows are a multiple of 4 KiB apart: those
  // map to few L1/L2 sets, and the copy is cheaper than the conflicts.
  const int64_t row_step = call.seq > 1 ? call.x_seq_stride : call.x_batch_stride;
  plan.x_direct = call.x_dtype == MHA_F32 && layer.kernels.a_dtype == MHA_F32 &&
                  row_step % 1024 != 0;  // 1024 floats = 4 KiB; in bytes it may overflow
  return plan;
}

int64_t GemmWorkspaceFloats(const GemmPlan& plan) {
  return plan.call->num_threads * plan.scratch_floats + plan.rows * 2 * plan.rope_half;
}

}  // namespace mha
