#include "gemm_epilogue.h"

#include <algorithm>
#include <cstring>

#include "mha/kit/dtype.h"
#include "mha/kit/linear_call.h"
#include "mha/kit/rope.h"

namespace mha {
namespace {

void StoreConverted(const float* c, int64_t count, mha_dtype dtype, void* y, int64_t offset) {
  switch (dtype) {
    case MHA_BF16: {
      uint16_t* dst = static_cast<uint16_t*>(y) + offset;
      for (int64_t i = 0; i < count; ++i) dst[i] = F32ToBF16(c[i]);
      break;
    }
    case MHA_F16: {
      uint16_t* dst = static_cast<uint16_t*>(y) + offset;
      for (int64_t i = 0; i < count; ++i) dst[i] = F32ToF16(c[i]);
      break;
    }
    default:
      std::memcpy(static_cast<float*>(y) + offset, c, static_cast<size_t>(count) * 4);
      break;
  }
}

}  // namespace

void StoreRow(const GemmLayer& layer, const mha_linear_call& call, int64_t b, int64_t s,
              int64_t n0, int64_t count, const float* cos_sin, float* c) {
  if (!layer.bias.empty()) {
    const float* bias = layer.bias.data() + n0;
    for (int64_t i = 0; i < count; ++i) c[i] += bias[i];
  }
  if (cos_sin) {
    const int64_t half = call.rope_dims / 2;
    for (int64_t h = 0; h < count; h += call.head_dim) {
      RotateHead(call.rope, call.rope_dims, cos_sin, cos_sin + half, c + h);
    }
  }
  // One contiguous run per head (or per block when a block ends inside a head).
  for (int64_t i = 0; i < count;) {
    const int64_t n = n0 + i;
    const int64_t run = std::min(count - i, call.head_dim - n % call.head_dim);
    StoreConverted(c + i, run, call.y_dtype, call.y, OutputOffset(call, b, s, n));
    i += run;
  }
}

}  // namespace mha
