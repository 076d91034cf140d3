// The scalar reference backend: the oracle every other backend is tested against.
// Plain loops over the formulas of docs/semantics.md, accumulated in double;
// readable above all. OpenMP splits (batch, head) pairs only.
#include <omp.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>
#include <new>
#include <stdexcept>
#include <vector>

#include "mha/backend.h"
#include "mha/kit/dtype.h"
#include "mha/kit/mask.h"
#include "mha/kit/tensor_view.h"
#include "reference_backend.h"
#include "reference_linear.h"

namespace mha {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double Element(const mha_tensor& t, int64_t a0, int64_t a1, int64_t a2, int64_t a3) {
  return LoadAsF32(t.data, t.dtype, RowOffset(t, a0, a1, a2) + a3 * t.strides[3]);
}

// The logit of query i against key j before masking: scale, softcap, bias, ALiBi.
double Logit(const mha_problem& p, int64_t b, int64_t h, int64_t g, int64_t i,
             int64_t j) {
  double dot = 0.0;
  for (int64_t d = 0; d < p.head_dim; ++d) {
    dot += Element(p.q, b, i, h, d) * Element(p.k, b, j, g, d);
  }
  double s = p.scale * dot;
  if (p.softcap > 0) s = p.softcap * std::tanh(s / p.softcap);
  if (p.has_bias) s += Element(p.bias, b, h, i, j);
  if (p.alibi_slopes) {
    s += static_cast<double>(p.alibi_slopes[h]) *
         static_cast<double>(j - QueryPosition(p, b, i));
  }
  return s;
}

// One query row: softmax over the visible keys, then the weighted sum of V.
// weights: kv_len doubles of scratch.
void AttendRow(const mha_problem& p, int64_t b, int64_t h, int64_t i, double* weights) {
  const int64_t g = h / (p.num_heads / p.num_kv_heads);
  const KeyRange keys = VisibleKeys(p, b, i);

  double max_logit = kNegInf;
  for (int64_t j = 0; j < p.kv_len; ++j) {
    weights[j] = j >= keys.begin && j < keys.end ? Logit(p, b, h, g, i, j) : kNegInf;
    // A NaN logit wins, so that NaN inputs propagate to their row.
    if (std::isnan(weights[j]) || weights[j] > max_logit) max_logit = weights[j];
    if (std::isnan(max_logit)) break;
  }
  double sum = 0.0;
  if (std::isnan(max_logit)) {
    std::fill(weights, weights + p.kv_len, max_logit);
    sum = 1.0;
  } else if (max_logit != kNegInf) {
    for (int64_t j = keys.begin; j < keys.end; ++j) {
      weights[j] = std::exp(weights[j] - max_logit);
      sum += weights[j];
    }
  }
  // A fully forbidden row has max -inf: its weights and output are zero.
  const bool forbidden = keys.empty() || max_logit == kNegInf;
  for (int64_t j = 0; j < p.kv_len; ++j) {
    weights[j] = forbidden || weights[j] == kNegInf ? 0.0 : weights[j] / sum;
  }

  for (int64_t e = 0; e < p.v_head_dim; ++e) {
    double acc = 0.0;
    for (int64_t j = keys.begin; j < keys.end; ++j) acc += weights[j] * Element(p.v, b, j, g, e);
    StoreFromF32(p.out.data, p.out.dtype, RowOffset(p.out, b, i, h) + e,
                 static_cast<float>(acc));
  }
  if (p.probs) {
    float* row = static_cast<float*>(p.probs->data) + RowOffset(*p.probs, b, h, i);
    for (int64_t j = 0; j < p.kv_len; ++j) {
      row[j * p.probs->strides[3]] = static_cast<float>(weights[j]);
    }
  }
  if (p.lse) {
    p.lse[(b * p.num_heads + h) * p.q_len + i] =
        forbidden ? -std::numeric_limits<float>::infinity()
                  : static_cast<float>(max_logit + std::log(sum));
  }
}

mha_status OutOfWorkspace(const mha_problem& p, int threads, mha_backend_report* report) {
  std::snprintf(report->message, sizeof report->message,
                "out of memory: the reference needs %d x kv_len=%" PRId64
                " doubles of workspace",
                threads, p.kv_len);
  return MHA_ERR_OUT_OF_MEMORY;
}

mha_status Create(const mha_backend_config*, void** instance, mha_backend_report*) {
  *instance = nullptr;  // stateless
  return MHA_OK;
}

void Destroy(void*) {}

const char* Isa(const void*) { return "scalar"; }

int Supports(const void*, const mha_problem*, mha_backend_report*) { return 1; }

mha_status Attention(void*, const mha_problem* problem, mha_backend_report* report) {
  const mha_problem& p = *problem;
  std::snprintf(report->impl, sizeof report->impl, "reference:f64");
  const int64_t pairs = p.batch * p.num_heads;
  const int threads = static_cast<int>(std::clamp<int64_t>(pairs, 1, p.num_threads));
  // One row of weights per thread, allocated before the parallel region: an
  // exception must not leave it.
  std::vector<double> weights;
  try {
    weights.resize(static_cast<size_t>(threads) * static_cast<size_t>(p.kv_len));
  } catch (const std::bad_alloc&) {
    return OutOfWorkspace(p, threads, report);
  } catch (const std::length_error&) {
    return OutOfWorkspace(p, threads, report);
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t bh = 0; bh < pairs; ++bh) {
    double* row_weights = weights.data() + omp_get_thread_num() * p.kv_len;
    const int64_t b = bh / p.num_heads, h = bh % p.num_heads;
    for (int64_t i = 0; i < p.q_len; ++i) AttendRow(p, b, h, i, row_weights);
  }
  return MHA_OK;
}

const mha_backend_iface kReferenceBackend = {
    /* .abi_version = */ MHA_BACKEND_ABI_VERSION,
    /* .name        = */ "reference",
    /* .version     = */ "1",
    /* .create      = */ Create,
    /* .destroy     = */ Destroy,
    /* .isa         = */ Isa,
    /* .supports    = */ Supports,
    /* .attention   = */ Attention,
    /* .linear_create  = */ ReferenceLinearCreate,
    /* .linear_destroy = */ ReferenceLinearDestroy,
    /* .linear_forward = */ ReferenceLinearForward,
};

}  // namespace

const mha_backend_iface* ReferenceBackend() { return &kReferenceBackend; }

}  // namespace mha
