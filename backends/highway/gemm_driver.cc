// The GEMM's one OpenMP loop and its work items: each item copies its x rows into
// scratch (converted to the tiles' type; f32 rows the tiles can read in place are not
// copied), runs the tiles over all of K block by block (panel slices
// outside, row tiles inside, so a slice is reused by every row of the block) and
// stores its C block through the epilogue.
#include <omp.h>

#include <algorithm>

#include "gemm_epilogue.h"
#include "gemm_plan.h"
#include "mha/kit/linear_call.h"
#include "mha/kit/rope.h"

namespace mha {
namespace {

struct RowRef {
  int64_t b, s;
};

// The rows [first, first + count) of the computed rows, in (b, s) order.
void FindRows(const mha_linear_call& call, int64_t first, int64_t count, RowRef* out) {
  int64_t b = 0, before = 0;
  while (before + LinearRows(call, b) <= first) before += LinearRows(call, b++);
  int64_t s = first - before;
  for (int64_t r = 0; r < count; ++r) {
    while (s >= LinearRows(call, b)) {
      s = 0;
      ++b;
    }
    out[r] = {b, s++};
  }
}

void FillRopeTable(const GemmPlan& plan) {
  const mha_linear_call& call = *plan.call;
  RowRef row;
  for (int64_t r = 0; r < plan.rows; ++r) {
    FindRows(call, r, 1, &row);
    float* cos = plan.rope_table + r * 2 * plan.rope_half;
    RopeAngles(call.rope_inv_freq, plan.rope_half, RopePosition(call, row.b, row.s), cos,
               cos + plan.rope_half);
  }
}

void RunItem(const GemmPlan& plan, int64_t item, float* scratch) {
  const GemmLayer& layer = *plan.layer;
  const mha_linear_call& call = *plan.call;
  const GemmKernels& kernels = layer.kernels;
  const int64_t m0 = item / plan.feature_blocks * plan.mc;
  const int64_t n0 = item % plan.feature_blocks * plan.nc;
  const int64_t rows = std::min(plan.mc, plan.rows - m0);
  const int64_t cols = std::min(plan.nc, layer.n - n0);
  const int64_t mr = layer.tile.mr, nr = layer.tile.nr;
  const int64_t first_panel = n0 / nr, panels = (cols + nr - 1) / nr;
  RowRef refs[kGemmRowBlock];
  FindRows(call, m0, rows, refs);
  const char* x_rows[kGemmRowBlock];
  const int64_t x_size = call.x_dtype == MHA_F32 ? 4 : 2;
  for (int64_t r = 0; r < rows; ++r) {
    x_rows[r] = static_cast<const char*>(call.x) +
                InputOffset(call, refs[r].b, refs[r].s) * x_size;
  }
  float* c = scratch;
  char* converted = reinterpret_cast<char*>(scratch + plan.mc * plan.nc);
  const int64_t a_size = kernels.a_dtype == MHA_F32 ? 4 : 2;
  const void* a[kGemmRowBlock];
  for (int64_t k0 = 0; k0 < layer.k; k0 += plan.kc) {
    const int64_t depth = std::min(plan.kc, layer.k - k0);
    for (int64_t r = 0; r < rows; ++r) {
      if (plan.x_direct) {
        a[r] = x_rows[r] + k0 * x_size;
        continue;
      }
      char* dst = converted + r * plan.a_stride * a_size;
      kernels.convert_row(x_rows[r] + k0 * x_size, call.x_dtype, depth, depth + depth % 2,
                          dst);
      a[r] = dst;
    }
    for (int64_t p = 0; p < panels; ++p) {
      const void* b = layer.PanelAt(first_panel + p, k0);
      for (int64_t r = 0; r < rows; r += mr) {
        kernels.tile(std::min(mr, rows - r), a + r, b, depth, c + r * plan.nc + p * nr,
                     plan.nc, k0 > 0);
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float* cos_sin =
        plan.rope_half ? plan.rope_table + (m0 + r) * 2 * plan.rope_half : nullptr;
    StoreRow(layer, call, refs[r].b, refs[r].s, n0, cols, cos_sin, c + r * plan.nc);
  }
}

}  // namespace

void RunGemm(GemmPlan plan, float* workspace) {
  if (plan.rows == 0) return;
  const int threads = plan.call->num_threads;
  if (plan.rope_half) {
    plan.rope_table = workspace + threads * plan.scratch_floats;
    FillRopeTable(plan);
  }
  const int64_t items = plan.row_blocks * plan.feature_blocks;
#pragma omp parallel num_threads(threads) if (threads > 1 && items > 1)
  {
    float* scratch = workspace + omp_get_thread_num() * plan.scratch_floats;
#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < items; ++item) RunItem(plan, item, scratch);
  }
}

}  // namespace mha
