// A backend module for the loader tests, built several ways by tests/CMakeLists.txt:
// a good one, one with a stale ABI version, one without the entry point, and one
// that needs a library the loader cannot find.
#include <cstdio>

#include "mha/backend.h"
#include "mha/kit/tensor_view.h"

#ifdef TEST_BACKEND_NEEDS_DEPENDENCY
int MhaTestDependency();  // defined in a library that is not on the search path
#endif

namespace {

mha_status Create(const mha_backend_config*, void** instance, mha_backend_report*) {
  *instance = nullptr;
#ifdef TEST_BACKEND_NEEDS_DEPENDENCY
  return MhaTestDependency() == 0 ? MHA_OK : MHA_ERR_INTERNAL;
#else
  return MHA_OK;
#endif
}

void Destroy(void*) {}

const char* Isa(const void*) { return "test_isa"; }

// Runs only head_dim 4, so that a context can be seen falling through to the next.
int Supports(const void*, const mha_problem* p, mha_backend_report* report) {
  if (p->head_dim == 4) return 1;
  std::snprintf(report->message, sizeof report->message, "head_dim=%lld: runs only 4",
                static_cast<long long>(p->head_dim));
  return 0;
}

// Writes 7 into every f32 output element: a value no real attention over V in
// [-1, 1] produces, so a test can tell that this module ran.
mha_status Attention(void*, const mha_problem* p, mha_backend_report* report) {
  std::snprintf(report->impl, sizeof report->impl, "%s:sevens", TEST_BACKEND_NAME);
  if (p->out.dtype != MHA_F32) return MHA_ERR_UNSUPPORTED;
  float* out = static_cast<float*>(p->out.data);
  for (int64_t b = 0; b < p->batch; ++b)
    for (int64_t i = 0; i < p->q_len; ++i)
      for (int64_t h = 0; h < p->num_heads; ++h)
        for (int64_t e = 0; e < p->v_head_dim; ++e) out[mha::RowOffset(p->out, b, i, h) + e] = 7;
  return MHA_OK;
}

const mha_backend_iface kTable = {
    /* .abi_version = */ TEST_BACKEND_ABI_VERSION,
    /* .name        = */ TEST_BACKEND_NAME,
    /* .version     = */ "test",
    /* .create      = */ Create,
    /* .destroy     = */ Destroy,
    /* .isa         = */ Isa,
    /* .supports    = */ Supports,
    /* .attention   = */ Attention,
    /* no GEMM: a layer on this backend runs its projections on the next one */
    /* .linear_create  = */ nullptr,
    /* .linear_destroy = */ nullptr,
    /* .linear_forward = */ nullptr,
};

}  // namespace

#ifndef TEST_BACKEND_WITHOUT_ENTRY
extern "C" __attribute__((visibility("default"))) const mha_backend_iface* mha_backend_get(
    uint32_t) {
  return &kTable;
}
#endif
