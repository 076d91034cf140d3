// Placeholder until the flash kernels land (issue 3): declines every call so that
// `auto` falls through to the reference.
#include "highway_backend.h"

#include <cstdio>

namespace mha {
namespace {

mha_status Create(const mha_backend_config*, void** instance, mha_backend_report*) {
  *instance = nullptr;
  return MHA_OK;
}
void Destroy(void*) {}
const char* Isa(const void*) { return "none"; }
int Supports(const void*, const mha_problem*, mha_backend_report* report) {
  std::snprintf(report->message, sizeof report->message, "kernels not built yet");
  return 0;
}
mha_status Attention(void*, const mha_problem*, mha_backend_report*) {
  return MHA_ERR_UNSUPPORTED;
}

const mha_backend_iface kHighwayBackend = {
    MHA_BACKEND_ABI_VERSION, "highway", "0", Create, Destroy, Isa, Supports, Attention,
};

}  // namespace

const mha_backend_iface* HighwayBackend() { return &kHighwayBackend; }

}  // namespace mha
