#ifndef MHA_BACKENDS_REFERENCE_REFERENCE_BACKEND_H_
#define MHA_BACKENDS_REFERENCE_REFERENCE_BACKEND_H_

#include "mha/backend.h"

namespace mha {

// The scalar oracle, compiled into the core.
const mha_backend_iface* ReferenceBackend();

}  // namespace mha

#endif  // MHA_BACKENDS_REFERENCE_REFERENCE_BACKEND_H_
