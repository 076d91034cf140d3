// The C API: thin entry points over the core.
#include <string>
#include <utility>
#include <vector>

#include "context.h"
#include "error.h"
#include "mha/kit/dtype.h"
#include "registry.h"
#include "settings.h"

extern "C" {

mha_status mha_context_create(const char* backend, mha_context** out) {
  mha_context_options options;
  mha_context_options_init(&options);
  options.backend = backend;
  return mha::CreateContext(&options, out);
}

mha_status mha_context_create_with(const mha_context_options* options, mha_context** out) {
  return mha::CreateContext(options, out);
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
  if (n < 0 || n > mha::kMaxThreads) {
    return mha::Fail(MHA_ERR_INVALID_ARGUMENT,
                     mha::Format("n=%d: the thread count must be 1 to %d, or 0 for the default",
                                 n, mha::kMaxThreads));
  }
  ctx->num_threads = n;
  return MHA_OK;
}

mha_status mha_attention(mha_context* ctx, const mha_tensor* q, const mha_tensor* k,
                         const mha_tensor* v, mha_tensor* out,
                         const mha_attention_desc* desc) {
  return mha::RunAttention(ctx, q, k, v, out, desc);
}

// MHA_PLUGIN_PATH as the environment says now: the backend queries read it on every call,
// as mha_context_create does. False, with the error recorded, when a variable is malformed.
static bool PluginPathNow(std::vector<std::string>* plugin_path) {
  return mha::ReadPluginPath(plugin_path) == MHA_OK;
}

static std::vector<std::string> KnownNamesNow() {
  std::vector<std::string> plugin_path;
  PluginPathNow(&plugin_path);  // malformed settings: the built-ins and default dirs
  return mha::KnownBackendNames(plugin_path);
}

int mha_backend_count(void) { return static_cast<int>(KnownNamesNow().size()); }

const char* mha_backend_name(int i) {
  const std::vector<std::string> names = KnownNamesNow();
  if (i < 0 || i >= static_cast<int>(names.size())) return nullptr;
  return mha::Intern(names[i]);
}

// The backend table of `name`, loading its module if needed; NULL with the error recorded.
static const mha_backend_iface* BackendNamed(const char* name) {
  if (!name) {
    mha::Fail(MHA_ERR_INVALID_ARGUMENT, "name is NULL");
    return nullptr;
  }
  std::vector<std::string> plugin_path;
  if (!PluginPathNow(&plugin_path)) return nullptr;
  const mha_backend_iface* iface = nullptr;
  return mha::FindBackend(name, plugin_path, &iface) == MHA_OK ? iface : nullptr;
}

int mha_backend_available(const char* name) { return BackendNamed(name) ? 1 : 0; }

const char* mha_backend_version(const char* name) {
  const mha_backend_iface* iface = BackendNamed(name);
  return iface ? iface->version : nullptr;
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
