// The version string a backend module reports about itself (for the oneDNN module:
// ours and the oneDNN it was built against), read through the public backend ABI.
#ifndef MHA_TOOLS_MODULE_VERSION_H_
#define MHA_TOOLS_MODULE_VERSION_H_

#include <string>

namespace mha_tools {

// Looks for libmha_backend_<name>.so where the core looks (MHA_PLUGIN_PATH, then the
// directory of libmha) and returns its table's version; "" when it is not a module or
// cannot be loaded.
std::string ModuleVersion(const std::string& name);

}  // namespace mha_tools

#endif  // MHA_TOOLS_MODULE_VERSION_H_
