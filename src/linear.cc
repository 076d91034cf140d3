#include "linear.h"

#include <omp.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>

#include "error.h"

mha_linear::~mha_linear() {
  if (packed) iface->linear_destroy(instance, packed);
}

namespace mha {

mha_status CreateLinear(mha_context* ctx, const mha_linear_desc& desc, mha_linear** out) {
  std::string declined;
  for (const mha_context::Backend& b : ctx->backends) {
    if (!b.iface->linear_create) {
      declined += Format("%s%s: has no GEMM", declined.empty() ? "" : "; ", b.iface->name);
      continue;
    }
    mha_backend_report report{};
    void* packed = nullptr;
    const mha_status s = b.iface->linear_create(b.instance, &desc, &packed, &report);
    if (s == MHA_ERR_UNSUPPORTED) {
      declined += Format("%s%s: %s", declined.empty() ? "" : "; ", b.iface->name,
                         report.message);
      continue;
    }
    if (s != MHA_OK) return Fail(s, Format("%s: %s", b.iface->name, report.message));
    auto linear = std::make_unique<mha_linear>();
    linear->iface = b.iface;
    linear->instance = b.instance;
    linear->packed = packed;
    linear->ctx = ctx;
    linear->out_features = desc.out_features;
    linear->in_features = desc.in_features;
    if (ctx->settings.verbose >= 2 && !declined.empty()) {
      std::fprintf(stderr, "mha: linear %" PRId64 "x%" PRId64 " %s runs on %s (%s)\n",
                   desc.out_features, desc.in_features, mha_dtype_name(desc.weight_dtype),
                   b.iface->name, declined.c_str());
    }
    *out = linear.release();
    return MHA_OK;
  }
  return Fail(MHA_ERR_UNSUPPORTED,
              Format("no backend of this context has a GEMM for a %" PRId64 "x%" PRId64
                     " %s linear layer: %s; add one to the list, e.g. \"%s,highway\"",
                     desc.out_features, desc.in_features, mha_dtype_name(desc.weight_dtype),
                     declined.c_str(), mha_context_backend(ctx)));
}

mha_linear_call LinearCallFor(const mha_tensor& x, const mha_tensor& y) {
  mha_linear_call c{};
  c.batch = x.dims[0];
  c.seq = x.dims[1];
  c.x = x.data;
  c.x_dtype = x.dtype;
  c.x_batch_stride = x.strides[0];
  c.x_seq_stride = x.strides[1];
  c.y = y.data;
  c.y_dtype = y.dtype;
  c.y_batch_stride = y.strides[0];
  c.y_seq_stride = y.strides[1];
  c.y_head_stride = y.strides[2];
  c.head_dim = y.dims[3];
  return c;
}

mha_status RunLinear(const mha_linear& linear, mha_linear_call call) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const int threads = linear.ctx->num_threads.load(std::memory_order_relaxed);
  call.num_threads = threads > 0 ? threads : omp_get_max_threads();
  mha_backend_report report{};
  if (mha_status s = linear.iface->linear_forward(linear.instance, linear.packed, &call,
                                                  &report)) {
    return Fail(s, Format("%s: %s", linear.iface->name, report.message));
  }
  if (linear.ctx->settings.verbose >= 1) {
    const std::chrono::duration<double, std::micro> elapsed = Clock::now() - start;
    std::fprintf(stderr,
                 "mha: %s linear B=%" PRId64 " L=%" PRId64 " N=%" PRId64 " K=%" PRId64
                 " x=%s y=%s%s threads=%d %.1f us\n",
                 report.impl[0] ? report.impl : linear.iface->name, call.batch, call.seq,
                 linear.out_features, linear.in_features, mha_dtype_name(call.x_dtype),
                 mha_dtype_name(call.y_dtype), call.rope ? " +rope" : "", call.num_threads,
                 elapsed.count());
  }
  return MHA_OK;
}

}  // namespace mha
