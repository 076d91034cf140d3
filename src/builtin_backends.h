#ifndef MHA_SRC_BUILTIN_BACKENDS_H_
#define MHA_SRC_BUILTIN_BACKENDS_H_

#include <vector>

#include "mha/backend.h"

namespace mha {

// The backends compiled into libmha, best first; the reference is always last.
const std::vector<const mha_backend_iface*>& BuiltinBackends();

}  // namespace mha

#endif  // MHA_SRC_BUILTIN_BACKENDS_H_
