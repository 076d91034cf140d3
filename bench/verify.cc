#include "verify.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace mha_bench {
namespace {

// The f64 reference runs at 1-2 GFLOP/s a core: this is a second or two per shape.
constexpr double kVerifyMaxFlops = 2e9;

// One reference context for the whole process, using every thread; NULL when the
// reference backend cannot be created, with the reason in *why.
mha_context* ReferenceContext(std::string* why) {
  static std::string failure;
  static mha_context* ctx = []() -> mha_context* {
    mha_context* c = nullptr;
    if (mha_context_create("reference", &c) != MHA_OK) {
      failure = mha_last_error();
      return nullptr;
    }
    mha_context_set_num_threads(c, omp_get_max_threads());
    return c;
  }();
  *why = failure;
  return ctx;
}

// The attention the shape names, built from the shape alone rather than taken from
// RunAttention: a bench desc that loses one of the shape's flags then computes
// something else than the reference, and the row fails.
mha_attention_desc DescOf(const Shape& shape) {
  mha_attention_desc desc;
  mha_attention_desc_init(&desc);
  desc.causal = shape.causal;
  return desc;
}

size_t Elements(const mha_tensor& t) {
  return static_cast<size_t>(t.dims[0] * t.dims[1] * t.dims[2] * t.dims[3]);
}

// Element i of a contiguous f32 or bf16 tensor (the bench's dtypes), as a float.
float ElementAt(const mha_tensor& t, size_t i) {
  if (t.dtype == MHA_F32) return static_cast<const float*>(t.data)[i];
  const uint32_t bits = static_cast<uint32_t>(static_cast<const uint16_t*>(t.data)[i]) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace

bool VerifyAffordable(const Shape& shape) { return Flops(shape) <= kVerifyMaxFlops; }

const ReferenceOutput& ReferenceOutput::Get(const Shape& shape, const Precision& precision,
                                            const Workload& workload) {
  return LatestOf<ReferenceOutput>(shape, precision, workload);
}

// The tolerances are the tests' OutTolerance (tests/conformance.cc) for these inputs
// (|x| < 1, default scale), since the reference sees the same f32 or bf16 Q/K/V and
// writes the same output dtype: f32 out 2.4e-5 + 1e-5 |ref|; a bf16 K/V adds 4e-3
// (a backend may round P to bf16 for P.V); a bf16 out allows one ulp, 2^-7 |ref|.
ReferenceOutput::ReferenceOutput(const Shape& shape, const Precision& precision,
                                 const Workload& workload)
    : storage_(Elements(*workload.out()) * DtypeBytes(precision.out)),
      tensor_(*workload.out()),
      atol_(2.4e-5 + (precision.kv == MHA_F32 ? 0.0 : 4e-3)),
      rtol_(precision.out == MHA_F32 ? 1e-5 : 0x1p-7) {
  tensor_.data = storage_.data();
  std::string why;
  mha_context* reference = ReferenceContext(&why);
  if (!reference) {
    error_ = "verify: no reference backend: " + why;
    return;
  }
  const mha_attention_desc desc = DescOf(shape);
  if (mha_attention(reference, &workload.q(), &workload.k(0), &workload.v(0), &tensor_,
                    &desc) != MHA_OK) {
    error_ = std::string("verify: the reference failed: ") + mha_last_error();
  }
}

std::string ReferenceOutput::Compare(const mha_tensor& out) const {
  if (!error_.empty()) return error_;
  const size_t n = Elements(tensor_);
  double max_diff = 0.0;
  size_t off = 0;
  for (size_t i = 0; i < n; ++i) {
    const double want = ElementAt(tensor_, i);
    double diff = std::fabs(static_cast<double>(ElementAt(out, i)) - want);
    if (std::isnan(diff)) diff = INFINITY;
    max_diff = std::max(max_diff, diff);
    if (diff > atol_ + rtol_ * std::fabs(want)) ++off;
  }
  if (off == 0) return "";
  char text[160];
  std::snprintf(text, sizeof text,
                "verify: max |out - ref| = %.3g > tol %.3g + %.3g |ref| (%zu of %zu elements off)",
                max_diff, atol_, rtol_, off, n);
  return text;
}

}  // namespace mha_bench
