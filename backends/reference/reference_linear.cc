#include "reference_linear.h"

#include <cstdio>
#include <new>
#include <vector>

#include "mha/kit/dtype.h"
#include "mha/kit/linear_call.h"
#include "mha/kit/rope.h"

namespace mha {
namespace {

// The weights as exact f32 values (bf16 and f16 widen exactly).
struct Weights {
  int64_t n = 0, k = 0;
  std::vector<float> w;     // [n, k]
  std::vector<float> bias;  // [n] or empty
};

}  // namespace

mha_status ReferenceLinearCreate(void*, const mha_linear_desc* desc, void** linear,
                                 mha_backend_report* report) {
  Weights* weights = new (std::nothrow) Weights;
  if (!weights) {
    std::snprintf(report->message, sizeof report->message, "out of memory");
    return MHA_ERR_OUT_OF_MEMORY;
  }
  weights->n = desc->out_features;
  weights->k = desc->in_features;
  weights->w.resize(static_cast<size_t>(weights->n * weights->k));
  for (int64_t n = 0; n < weights->n; ++n) {
    for (int64_t k = 0; k < weights->k; ++k) {
      weights->w[n * weights->k + k] =
          LoadAsF32(desc->weight, desc->weight_dtype, n * desc->weight_row_stride + k);
    }
  }
  if (desc->bias) weights->bias.assign(desc->bias, desc->bias + weights->n);
  *linear = weights;
  return MHA_OK;
}

void ReferenceLinearDestroy(void*, void* linear) { delete static_cast<Weights*>(linear); }

mha_status ReferenceLinearForward(void*, const void* linear, const mha_linear_call* call,
                                  mha_backend_report* report) {
  const Weights& wt = *static_cast<const Weights*>(linear);
  const mha_linear_call& c = *call;
  std::snprintf(report->impl, sizeof report->impl, "reference:f64");
  const int64_t half = c.rope != MHA_ROPE_NONE ? c.rope_dims / 2 : 0;
#pragma omp parallel for num_threads(c.num_threads) schedule(dynamic, 1)
  for (int64_t row = 0; row < c.batch * c.seq; ++row) {
    const int64_t b = row / c.seq, s = row % c.seq;
    if (s >= LinearRows(c, b)) continue;
    std::vector<double> x(static_cast<size_t>(wt.k)), y(static_cast<size_t>(wt.n));
    std::vector<double> cos(static_cast<size_t>(half)), sin(static_cast<size_t>(half));
    for (int64_t k = 0; k < wt.k; ++k) x[k] = LoadAsF32(c.x, c.x_dtype, InputOffset(c, b, s) + k);
    for (int64_t n = 0; n < wt.n; ++n) {
      double acc = wt.bias.empty() ? 0.0 : wt.bias[n];
      for (int64_t k = 0; k < wt.k; ++k) acc += x[k] * wt.w[n * wt.k + k];
      y[n] = acc;
    }
    if (half > 0) {
      RopeAngles(c.rope_inv_freq, half, RopePosition(c, b, s), cos.data(), sin.data());
      for (int64_t h0 = 0; h0 < wt.n; h0 += c.head_dim) {
        RotateHead(c.rope, c.rope_dims, cos.data(), sin.data(), y.data() + h0);
      }
    }
    for (int64_t n = 0; n < wt.n; ++n) {
      StoreFromF32(c.y, c.y_dtype, OutputOffset(c, b, s, n), static_cast<float>(y[n]));
    }
  }
  return MHA_OK;
}

}  // namespace mha
