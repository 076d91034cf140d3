#include "module_version.h"

#include <dlfcn.h>

#include <cstdlib>
#include <vector>

#include "mha/backend.h"

namespace mha_tools {
namespace {

std::vector<std::string> SearchDirs() {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("MHA_PLUGIN_PATH")) {
    std::string rest = path;
    for (size_t colon; (colon = rest.find(':')) != std::string::npos;
         rest = rest.substr(colon + 1)) {
      if (colon > 0) dirs.push_back(rest.substr(0, colon));
    }
    if (!rest.empty()) dirs.push_back(rest);
  }
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&mha_version), &info) && info.dli_fname) {
    const std::string lib = info.dli_fname;
    const size_t slash = lib.rfind('/');
    dirs.push_back(slash == std::string::npos ? "." : lib.substr(0, slash));
  }
  return dirs;
}

}  // namespace

std::string ModuleVersion(const std::string& name) {
  for (const std::string& dir : SearchDirs()) {
    const std::string file = dir + "/libmha_backend_" + name + ".so";
    // The core has loaded the same file already, so this only takes a reference.
    void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) continue;
    std::string version;
    if (auto get = reinterpret_cast<mha_backend_get_fn>(dlsym(handle, MHA_BACKEND_ENTRY_SYMBOL))) {
      const mha_backend_iface* iface = get(MHA_BACKEND_ABI_VERSION);
      if (iface && iface->abi_version == MHA_BACKEND_ABI_VERSION && iface->version) {
        version = iface->version;
      }
    }
    dlclose(handle);
    if (!version.empty()) return version;
  }
  return "";
}

}  // namespace mha_tools
