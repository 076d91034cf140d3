// Planning and threading of the GEMM (no SIMD here): how a call is cut into work
// items of (row block, feature block), each running over all of K on one thread, so
// the split and the results depend on the shape only, never on the thread count.
#ifndef MHA_BACKENDS_HIGHWAY_GEMM_PLAN_H_
#define MHA_BACKENDS_HIGHWAY_GEMM_PLAN_H_

#include <cstdint>

#include "gemm_layer.h"
#include "mha/backend.h"

namespace mha {

// Cache blocking: a tile's panel slice of kc k rows stays in L1/L2 for every row
// block of an item; an item's A block (mc x kc) and C block (mc x nc) stay in L2.
// The A block is always copied (and converted) into scratch: x rows whose stride is a
// multiple of 16 KiB would otherwise fall into a few L2 sets.
constexpr int64_t kGemmRowBlock = 96;     // mc, rounded down to a multiple of mr
constexpr int64_t kGemmFeatureBlock = 512;  // nc, a multiple of every nr
constexpr int64_t kGemmDepthBlock = 256;    // kc (f32 tiles); pairs take twice as many
// At most this many rows (decode): kc spans all of K and the tiles write C once.
constexpr int64_t kGemvMaxRows = 8;

struct GemmPlan {
  const GemmLayer* layer = nullptr;
  const mha_linear_call* call = nullptr;
  int64_t rows = 0;  // rows computed: sum over b of LinearRows
  int64_t mc = 0, nc = 0, kc = 0;
  int64_t row_blocks = 0, feature_blocks = 0;
  int64_t a_stride = 0;         // elements of a row of the A block (kc rounded up)
  int64_t scratch_floats = 0;   // per thread: C block, then converted A rows
  int64_t rope_half = 0;        // rope_dims / 2, 0 without RoPE
  bool x_direct = false;        // the tiles read x's rows in place
  float* rope_table = nullptr;  // per row: rope_half cos, then rope_half sin
};

GemmPlan MakeGemmPlan(const GemmLayer& layer, const mha_linear_call& call);

// Floats of workspace RunGemm needs: every thread's scratch and the RoPE table.
int64_t GemmWorkspaceFloats(const GemmPlan& plan);

void RunGemm(GemmPlan plan, float* workspace);

}  // namespace mha

#endif  // MHA_BACKENDS_HIGHWAY_GEMM_PLAN_H_
