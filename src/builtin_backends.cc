#include "builtin_backends.h"

#include "highway_backend.h"
#include "reference_backend.h"
#ifdef MHA_ONEDNN_BUILTIN
#include "onednn_backend.h"
#endif

namespace mha {

const std::vector<const mha_backend_iface*>& BuiltinBackends() {
  static const std::vector<const mha_backend_iface*> backends = {
      HighwayBackend(),
#ifdef MHA_ONEDNN_BUILTIN
      OnednnBackend(),
#endif
      ReferenceBackend(),
  };
  return backends;
}

}  // namespace mha
