// The module's only exports: the backend table, and a counter for tests.
#include <cstdint>

#include "mha/backend.h"
#include "onednn_backend.h"
#include "primitive_cache.h"

extern "C" {

__attribute__((visibility("default"))) const mha_backend_iface* mha_backend_get(
    uint32_t host_abi_version) {
  // A host of another ABI version gets the table anyway and refuses it by its
  // abi_version, which lets it name both versions in its message.
  (void)host_abi_version;
  return mha::OnednnBackend();
}

// Primitives created so far by this module (all instances): a repeated call must not
// add any. Looked up with dlsym by the tests.
__attribute__((visibility("default"))) int64_t mha_onednn_primitives_created(void) {
  return mha::onednn::PrimitivesCreated();
}

}  // extern "C"
