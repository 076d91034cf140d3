// The backend registry: built-in backends and modules loaded with dlopen, behind the
// same mha_backend_iface table.
#ifndef MHA_SRC_REGISTRY_H_
#define MHA_SRC_REGISTRY_H_

#include <string>
#include <vector>

#include "mha/backend.h"

namespace mha {

// The backends `auto` tries, best first (built-ins only: modules are loaded by name).
std::vector<std::string> AutoBackendNames();

// Every backend this process can name: built-ins, then the modules
// libmha_backend_<name>.so found in the search directories, without duplicates.
std::vector<std::string> KnownBackendNames(const std::vector<std::string>& plugin_path);

// Finds a backend by name, loading its module on first use (modules stay loaded for
// the life of the process). On failure records why and returns
// MHA_ERR_BACKEND_UNAVAILABLE.
mha_status FindBackend(const std::string& name, const std::vector<std::string>& plugin_path,
                       const mha_backend_iface** iface);

// Where modules are looked for: MHA_PLUGIN_PATH first, then the directory of libmha
// itself (of the executable when linked statically), then the install libdir.
std::vector<std::string> PluginSearchDirs(const std::vector<std::string>& plugin_path);

// Keeps a string alive for the life of the process and returns its characters, for
// names handed out through the C API.
const char* Intern(const std::string& text);

}  // namespace mha

#endif  // MHA_SRC_REGISTRY_H_
