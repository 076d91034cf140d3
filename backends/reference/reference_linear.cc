#include "reference_linear.h"

#include <omp.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <new>
#include <stdexcept>
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

mha_status OutOfMemory(mha_backend_report* report, const char* what) {
  std::snprintf(report->message, sizeof report->message, "out of memory: %s", what);
  return MHA_ERR_OUT_OF_MEMORY;
}

mha_status OutOfWeights(const mha_linear_desc* desc, mha_backend_report* report) {
  std::snprintf(report->message, sizeof report->message,
                "out_features=%" PRId64 ", in_features=%" PRId64
                ": out of memory for the weights as f32",
                desc->out_features, desc->in_features);
  return MHA_ERR_OUT_OF_MEMORY;
}

}  // namespace

mha_status ReferenceLinearCreate(void*, const mha_linear_desc* desc, void** linear,
                                 mha_backend_report* report) {
  std::unique_ptr<Weights> weights(new (std::nothrow) Weights);
  if (!weights) return OutOfMemory(report, "the weights");
  weights->n = desc->out_features;
  weights->k = desc->in_features;
  try {
    weights->w.resize(static_cast<size_t>(weights->n * weights->k));
    if (desc->bias) weights->bias.assign(desc->bias, desc->bias + weights->n);
  } catch (const std::bad_alloc&) {
    return OutOfWeights(desc, report);
  } catch (const std::length_error&) {
    return OutOfWeights(desc, report);
  }
  for (int64_t n = 0; n < weights->n; ++n) {
    for (int64_t k = 0; k < weights->k; ++k) {
      weights->w[n * weights->k + k] =
          LoadAsF32(desc->weight, desc->weight_dtype, n * desc->weight_row_stride + k);
    }
  }
  *linear = weights.release();
  return MHA_OK;
}

void ReferenceLinearDestroy(void*, void* linear) { delete static_cast<Weights*>(linear); }

mha_status ReferenceLinearForward(void*, const void* linear, const mha_linear_call* call,
                                  mha_backend_report* report) {
  const Weights& wt = *static_cast<const Weights*>(linear);
  const mha_linear_call& c = *call;
  std::snprintf(report->impl, sizeof report->impl, "reference:f64");
  const int64_t half = c.rope != MHA_ROPE_NONE ? c.rope_dims / 2 : 0;
  const int64_t rows = c.batch * c.seq;
  const int threads = static_cast<int>(std::clamp<int64_t>(rows, 1, c.num_threads));
  // Per thread: x [k], y [n], cos and sin [half], allocated before the parallel
  // region: an exception must not leave it.
  const int64_t per_thread = wt.k + wt.n + 2 * half;
  std::vector<double> scratch;
  try {
    scratch.resize(static_cast<size_t>(threads) * static_cast<size_t>(per_thread));
  } catch (const std::bad_alloc&) {
    return OutOfMemory(report, "the reference's row workspace");
  } catch (const std::length_error&) {
    return OutOfMemory(report, "the reference's row workspace");
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t b = row / c.seq, s = row % c.seq;
    if (s >= LinearRows(c, b)) continue;
    double* x = scratch.data() + omp_get_thread_num() * per_thread;
    double* y = x + wt.k;
    double* cos = y + wt.n;
    double* sin = cos + half;
    for (int64_t k = 0; k < wt.k; ++k) x[k] = LoadAsF32(c.x, c.x_dtype, InputOffset(c, b, s) + k);
    for (int64_t n = 0; n < wt.n; ++n) {
      double acc = wt.bias.empty() ? 0.0 : wt.bias[n];
      for (int64_t k = 0; k < wt.k; ++k) acc += x[k] * wt.w[n * wt.k + k];
      y[n] = acc;
    }
    if (half > 0) {
      RopeAngles(c.rope_inv_freq, half, RopePosition(c, b, s), cos, sin);
      for (int64_t h0 = 0; h0 < wt.n; h0 += c.head_dim) {
        RotateHead(c.rope, c.rope_dims, cos, sin, y + h0);
      }
    }
    for (int64_t n = 0; n < wt.n; ++n) {
      StoreFromF32(c.y, c.y_dtype, OutputOffset(c, b, s, n), static_cast<float>(y[n]));
    }
  }
  return MHA_OK;
}

}  // namespace mha
