#include "context.h"

#include <omp.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <memory>

#include "error.h"
#include "mha/kit/dtype.h"
#include "mha/kit/tensor_view.h"
#include "option_structs.h"
#include "registry.h"
#include "validate.h"

mha_context::~mha_context() {
  for (Backend& b : backends) b.iface->destroy(b.instance);
}

namespace mha {
namespace {

// Lk == 0: every row is fully forbidden, so out is zero and lse is -inf.
void WriteNoKeysResult(const mha_problem& p) {
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t i = 0; i < p.q_len; ++i) {
      for (int64_t h = 0; h < p.num_heads; ++h) {
        const int64_t row = RowOffset(p.out, b, i, h);
        for (int64_t e = 0; e < p.v_head_dim; ++e) {
          StoreFromF32(p.out.data, p.out.dtype, row + e, 0.0f);
        }
        if (p.lse) {
          p.lse[(b * p.num_heads + h) * p.q_len + i] = -std::numeric_limits<float>::infinity();
        }
      }
    }
  }
}

std::string MaskSummary(const mha_problem& p) {
  std::string text = p.causal ? "causal" : "none";
  if (p.window_left >= 0 || p.window_right >= 0) {
    text += Format("+window(%" PRId64 ",%" PRId64 ")", p.window_left, p.window_right);
  }
  if (p.kv_lens) text += "+kv_lens";
  if (p.q_lens) text += "+q_lens";
  if (p.has_bias) text += "+bias";
  if (p.alibi_slopes) text += "+alibi";
  if (p.softcap > 0) text += Format("+softcap(%g)", static_cast<double>(p.softcap));
  return text;
}

void LogCall(const mha_problem& p, const char* impl, double microseconds) {
  std::fprintf(stderr,
               "mha: %s B=%" PRId64 " Hq=%" PRId64 " Hkv=%" PRId64 " Lq=%" PRId64
               " Lk=%" PRId64 " D=%" PRId64 " Dv=%" PRId64
               " q=%s kv=%s out=%s mask=%s%s%s threads=%d %.1f us\n",
               impl, p.batch, p.num_heads, p.num_kv_heads, p.q_len, p.kv_len, p.head_dim,
               p.v_head_dim, mha_dtype_name(p.q.dtype), mha_dtype_name(p.k.dtype),
               mha_dtype_name(p.out.dtype), MaskSummary(p).c_str(), p.probs ? " +probs" : "",
               p.lse ? " +lse" : "", p.num_threads, microseconds);
}

}  // namespace

mha_status CreateContext(const mha_context_options* options, mha_context** out) {
  if (!out) return Fail(MHA_ERR_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  mha_context_options full;
  if (mha_status s = ReadContextOptions(options, &full)) return s;
  Settings settings;
  if (mha_status s = ReadSettings(&full, &settings)) return s;
  const std::string& request = settings.backend;
  std::vector<std::string> names = SplitList(request, ',');
  if (names.empty()) {
    return Fail(MHA_ERR_BACKEND_UNAVAILABLE,
                Format("backend \"%s\" names no backend; use auto or a name", request.c_str()));
  }
  if (names.size() == 1 && names[0] == "auto") names = AutoBackendNames();

  auto ctx = std::make_unique<mha_context>();
  ctx->settings = settings;
  ctx->num_threads = settings.num_threads;
  const mha_backend_config config = {settings.max_isa, settings.verbose,
                                     settings.scores_budget_bytes};
  for (const std::string& name : names) {
    const mha_backend_iface* iface = nullptr;
    if (mha_status s = FindBackend(name, settings.plugin_path, &iface)) return s;
    mha_backend_report report{};
    void* instance = nullptr;
    if (iface->create(&config, &instance, &report) != MHA_OK) {
      return Fail(MHA_ERR_BACKEND_UNAVAILABLE,
                  Format("backend \"%s\" could not start: %s", name.c_str(), report.message));
    }
    ctx->backends.push_back({iface, instance});
  }
  *out = ctx.release();
  return MHA_OK;
}

mha_status RunAttention(mha_context* ctx, const mha_tensor* q, const mha_tensor* k,
                        const mha_tensor* v, mha_tensor* out,
                        const mha_attention_desc* desc) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  if (!ctx) return Fail(MHA_ERR_INVALID_ARGUMENT, "ctx is NULL");
  mha_problem problem;
  if (mha_status s = ValidateAttention(q, k, v, out, desc, &problem)) return s;
  if (problem.q_len == 0) return MHA_OK;
  if (problem.kv_len == 0) {
    WriteNoKeysResult(problem);
    return MHA_OK;
  }
  const int threads = ctx->num_threads.load(std::memory_order_relaxed);
  problem.num_threads = threads > 0 ? threads : omp_get_max_threads();

  const int verbose = ctx->settings.verbose;
  std::string declined;
  for (const mha_context::Backend& b : ctx->backends) {
    mha_backend_report report{};
    if (!b.iface->supports(b.instance, &problem, &report)) {
      declined += Format("%s%s: %s", declined.empty() ? "" : "; ", b.iface->name,
                         report.message);
      continue;
    }
    if (verbose >= 2 && !declined.empty()) {
      std::fprintf(stderr, "mha: declined: %s\n", declined.c_str());
    }
    if (mha_status s = b.iface->attention(b.instance, &problem, &report)) {
      return Fail(s, Format("%s: %s", b.iface->name, report.message));
    }
    if (verbose >= 1) {
      const std::chrono::duration<double, std::micro> elapsed = Clock::now() - start;
      LogCall(problem, report.impl[0] ? report.impl : b.iface->name, elapsed.count());
    }
    return MHA_OK;
  }
  return Fail(MHA_ERR_UNSUPPORTED,
              Format("no backend of this context supports the call: %s", declined.c_str()));
}

}  // namespace mha
