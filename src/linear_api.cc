// The public mha_linear_* entry points: argument checks, then the core's linear.
#include <cinttypes>
#include <new>
#include <stdexcept>

#include "error.h"
#include "linear.h"
#include "mha/kit/dtype.h"
#include "validate.h"

using mha::Invalid;

extern "C" {

mha_status mha_linear_create(mha_context* ctx, int64_t out_features, int64_t in_features,
                             mha_dtype weight_dtype, const void* weight, const float* bias,
                             mha_linear** out) {
  if (!out) return Invalid("out is NULL");
  *out = nullptr;
  if (!ctx) return Invalid("ctx is NULL");
  int64_t elements;
  if (out_features < 1 || in_features < 1 ||
      __builtin_mul_overflow(out_features, in_features, &elements)) {
    return Invalid(mha::Format("out_features=%" PRId64 ", in_features=%" PRId64
                               ": each must be >= 1 and their product fit in int64",
                               out_features, in_features));
  }
  if (!mha::IsDtype(weight_dtype)) {
    return Invalid(mha::Format("weight_dtype=%d is not a dtype (MHA_F32, MHA_BF16 or MHA_F16)",
                               mha::DtypeValue(weight_dtype)));
  }
  if (!weight) return Invalid("weight is NULL");
  const mha_linear_desc desc = {out_features, in_features, weight_dtype, weight, in_features,
                                bias};
  try {
    return mha::CreateLinear(ctx, desc, out);
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {  // a vector longer than memory can be
  }
  return mha::Fail(MHA_ERR_OUT_OF_MEMORY,
                   mha::Format("out_features=%" PRId64 ", in_features=%" PRId64
                               ": out of memory for the packed weights",
                               out_features, in_features));
}

void mha_linear_destroy(mha_linear* linear) { delete linear; }

const char* mha_linear_backend(const mha_linear* linear) {
  return linear ? linear->iface->name : nullptr;
}

mha_status mha_linear_forward(mha_linear* linear, const mha_tensor* x, mha_tensor* y) {
  if (!linear) return Invalid("linear is NULL");
  static const int64_t kMin[4] = {0, 0, 1, 1};
  if (mha_status s = mha::CheckTensor("x", x, kMin, true)) return s;
  if (mha_status s = mha::CheckTensor("y", y, kMin, true)) return s;
  if (x->dims[2] != 1 || x->dims[3] != linear->in_features) {
    return Invalid(mha::Format("x.dims {%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                               "} must be {B, L, 1, in_features=%" PRId64 "}",
                               x->dims[0], x->dims[1], x->dims[2], x->dims[3],
                               linear->in_features));
  }
  if (y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1] ||
      y->dims[2] * y->dims[3] != linear->out_features) {
    return Invalid(mha::Format("y.dims {%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                               "} must be {B=%" PRId64 ", L=%" PRId64
                               ", H, D} with H * D = out_features=%" PRId64,
                               y->dims[0], y->dims[1], y->dims[2], y->dims[3], x->dims[0],
                               x->dims[1], linear->out_features));
  }
  if (x->dims[0] == 0 || x->dims[1] == 0) return MHA_OK;
  return mha::RunLinear(*linear, mha::LinearCallFor(*x, *y));
}

}  // extern "C"
