// mha_linear: one weight matrix packed by the first backend of a context that has a
// GEMM, and the core's entry for running it (the layer's projections and the public
// mha_linear_* calls both come here).
#ifndef MHA_SRC_LINEAR_H_
#define MHA_SRC_LINEAR_H_

#include "context.h"
#include "mha/backend.h"

struct mha_linear {
  const mha_backend_iface* iface = nullptr;
  void* instance = nullptr;
  void* packed = nullptr;
  mha_context* ctx = nullptr;
  int64_t out_features = 0, in_features = 0;

  mha_linear() = default;
  mha_linear(const mha_linear&) = delete;
  mha_linear& operator=(const mha_linear&) = delete;
  ~mha_linear();
};

namespace mha {

// Packs `desc` (already checked) on the first backend of ctx that has a GEMM and
// accepts it; backends without one are skipped, and said so under MHA_VERBOSE=2.
mha_status CreateLinear(mha_context* ctx, const mha_linear_desc& desc, mha_linear** out);

// The call that projects the rows of x [B, L, 1, K] into the [B, L, H, D] view y, with
// no RoPE, offsets or skipped rows.
mha_linear_call LinearCallFor(const mha_tensor& x, const mha_tensor& y);

// Runs a call the core built (consistent by construction); num_threads is filled here.
mha_status RunLinear(const mha_linear& linear, mha_linear_call call);

}  // namespace mha

#endif  // MHA_SRC_LINEAR_H_
