// The C API: thin entry points over the core.
#include <string>
#include <vector>

#include "context.h"
#include "dtype.h"
#include "error.h"
#include "registry.h"
#include "settings.h"

extern "C" {

mha_status mha_context_create(const char* backend, mha_context** out) {
  return mha::CreateContext(backend, out);
}

void mha_context_destroy(mha_context* ctx) { delete ctx; }

const char* mha_context_backend(const mha_context* ctx) {
  return ctx && !ctx->backends.empty() ? ctx->backends.front().iface->name : nullptr;
}

const char* mha_context_isa(const mha_context* ctx) {
  if (!ctx || ctx->backends.empty()) return nullptr;
  const mha_context::Backend& b = ctx->backends.front();
  return b.iface->isa(b.instance);
}

mha_status mha_context_set_num_threads(mha_context* ctx, int n) {
  if (!ctx) return mha::Fail(MHA_ERR_INVALID_ARGUMENT, "ctx is NULL");
  if (n < 0) {
    return mha::Fail(MHA_ERR_INVALID_ARGUMENT,
                     mha::Format("n=%d: the thread count must be >= 1, or 0 for the default", n));
  }
  ctx->num_threads = n;
  return MHA_OK;
}

void mha_attention_desc_init(mha_attention_desc* desc) {
  if (!desc) return;
  *desc = mha_attention_desc{};
  desc->window_left = -1;
  desc->window_right = -1;
}

mha_status mha_attention(mha_context* ctx, const mha_tensor* q, const mha_tensor* k,
                         const mha_tensor* v, mha_tensor* out,
                         const mha_attention_desc* desc) {
  return mha::RunAttention(ctx, q, k, v, out, desc);
}

static std::vector<std::string> KnownNamesNow() {
  mha::Settings settings;
  if (mha::ReadSettings(&settings) != MHA_OK) settings.plugin_path.clear();
  return mha::KnownBackendNames(settings.plugin_path);
}

int mha_backend_count(void) { return static_cast<int>(KnownNamesNow().size()); }

const char* mha_backend_name(int i) {
  const std::vector<std::string> names = KnownNamesNow();
  if (i < 0 || i >= static_cast<int>(names.size())) return nullptr;
  return mha::Intern(names[i]);
}

int mha_backend_available(const char* name) {
  if (!name) {
    mha::Fail(MHA_ERR_INVALID_ARGUMENT, "name is NULL");
    return 0;
  }
  mha::Settings settings;
  if (mha::ReadSettings(&settings) != MHA_OK) return 0;
  const mha_backend_iface* iface = nullptr;
  return mha::FindBackend(name, settings.plugin_path, &iface) == MHA_OK ? 1 : 0;
}

const char* mha_last_error(void) { return mha::LastError(); }

const char* mha_version(void) { return MHA_VERSION_STRING; }

const char* mha_dtype_name(mha_dtype dtype) {
  switch (mha::DtypeValue(dtype)) {
    case MHA_F32: return "f32";
    case MHA_BF16: return "bf16";
    case MHA_F16: return "f16";
  }
  return "?";
}

const char* mha_status_name(mha_status status) {
  switch (status) {
    case MHA_OK: return "MHA_OK";
    case MHA_ERR_INVALID_ARGUMENT: return "MHA_ERR_INVALID_ARGUMENT";
    case MHA_ERR_UNSUPPORTED: return "MHA_ERR_UNSUPPORTED";
    case MHA_ERR_BACKEND_UNAVAILABLE: return "MHA_ERR_BACKEND_UNAVAILABLE";
    case MHA_ERR_OUT_OF_MEMORY: return "MHA_ERR_OUT_OF_MEMORY";
    case MHA_ERR_INTERNAL: return "MHA_ERR_INTERNAL";
  }
  return "?";
}

}  // extern "C"
