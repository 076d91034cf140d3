// The oneDNN backend's table. The module exports it through mha_backend_get
// (module_entry.cc); with MHA_ONEDNN_BUILTIN the core registers it directly.
#ifndef MHA_BACKENDS_ONEDNN_ONEDNN_BACKEND_H_
#define MHA_BACKENDS_ONEDNN_ONEDNN_BACKEND_H_

#include "mha/backend.h"

namespace mha {

const mha_backend_iface* OnednnBackend();

}  // namespace mha

#endif  // MHA_BACKENDS_ONEDNN_ONEDNN_BACKEND_H_
