#ifndef MHA_BACKENDS_HIGHWAY_HIGHWAY_BACKEND_H_
#define MHA_BACKENDS_HIGHWAY_HIGHWAY_BACKEND_H_

#include "mha/backend.h"

namespace mha {

// The flash-attention backend on Highway, compiled into the core.
const mha_backend_iface* HighwayBackend();

}  // namespace mha

#endif  // MHA_BACKENDS_HIGHWAY_HIGHWAY_BACKEND_H_
