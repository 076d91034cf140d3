#include "registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>

#include "builtin_backends.h"
#include "error.h"

namespace mha {
namespace {

constexpr char kModulePrefix[] = "libmha_backend_";
constexpr char kModuleSuffix[] = ".so";

std::mutex registry_mutex;  // guards the two maps and the interned names

// Modules loaded so far, by backend name. Never unloaded: contexts in other threads
// may still hold their tables.
std::map<std::string, const mha_backend_iface*>& LoadedModules() {
  static auto* modules = new std::map<std::string, const mha_backend_iface*>;
  return *modules;
}

std::string Joined(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : ", ") + item;
  return text.empty() ? "(none)" : text;
}

bool FileExists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

// Backend names are [a-z0-9_]+ so that a name can never reach outside a directory.
bool IsPlainName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string DirectoryOfThisLibrary() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&DirectoryOfThisLibrary), &info) == 0 ||
      !info.dli_fname) {
    return "";
  }
  std::string path = info.dli_fname;
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Loads libmha_backend_<name>.so from `path` and checks its table.
mha_status LoadModule(const std::string& name, const std::string& path,
                      const mha_backend_iface** iface) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    return Fail(MHA_ERR_BACKEND_UNAVAILABLE,
                Format("backend \"%s\": cannot load %s: %s", name.c_str(), path.c_str(),
                       why ? why : "unknown dlopen error"));
  }
  auto entry = reinterpret_cast<mha_backend_get_fn>(dlsym(handle, MHA_BACKEND_ENTRY_SYMBOL));
  if (!entry) {
    dlclose(handle);
    return Fail(MHA_ERR_BACKEND_UNAVAILABLE,
                Format("backend \"%s\": %s does not export %s()", name.c_str(), path.c_str(),
                       MHA_BACKEND_ENTRY_SYMBOL));
  }
  const mha_backend_iface* table = entry(MHA_BACKEND_ABI_VERSION);
  if (!table || table->abi_version != MHA_BACKEND_ABI_VERSION) {
    const unsigned theirs = table ? table->abi_version : 0u;
    dlclose(handle);
    return Fail(MHA_ERR_BACKEND_UNAVAILABLE,
                Format("backend \"%s\": %s has backend ABI version %u, this libmha needs %u",
                       name.c_str(), path.c_str(), theirs, MHA_BACKEND_ABI_VERSION));
  }
  if (!table->name || name != table->name || !table->create || !table->destroy ||
      !table->isa || !table->supports || !table->attention) {
    dlclose(handle);
    return Fail(MHA_ERR_BACKEND_UNAVAILABLE,
                Format("backend \"%s\": %s returned an incomplete table or one named \"%s\"",
                       name.c_str(), path.c_str(), table->name ? table->name : "(null)"));
  }
  *iface = table;
  return MHA_OK;
}

}  // namespace

const char* Intern(const std::string& text) {
  static auto* strings = new std::deque<std::string>;
  std::lock_guard<std::mutex> lock(registry_mutex);
  for (const std::string& s : *strings) {
    if (s == text) return s.c_str();
  }
  strings->push_back(text);
  return strings->back().c_str();
}

std::vector<std::string> PluginSearchDirs(const std::vector<std::string>& plugin_path) {
  std::vector<std::string> dirs = plugin_path;
  const std::string own = DirectoryOfThisLibrary();
  if (!own.empty()) dirs.push_back(own);
  dirs.push_back(MHA_INSTALL_LIBDIR);
  std::vector<std::string> unique;
  for (const std::string& d : dirs) {
    if (std::find(unique.begin(), unique.end(), d) == unique.end()) unique.push_back(d);
  }
  return unique;
}

std::vector<std::string> AutoBackendNames() {
  std::vector<std::string> names;
  for (const mha_backend_iface* b : BuiltinBackends()) names.push_back(b->name);
  return names;
}

std::vector<std::string> KnownBackendNames(const std::vector<std::string>& plugin_path) {
  std::vector<std::string> names = AutoBackendNames();
  const size_t prefix = sizeof kModulePrefix - 1, suffix = sizeof kModuleSuffix - 1;
  for (const std::string& dir : PluginSearchDirs(plugin_path)) {
    DIR* listing = opendir(dir.c_str());
    if (!listing) continue;
    while (const dirent* entry = readdir(listing)) {
      const std::string file = entry->d_name;
      if (file.size() <= prefix + suffix || file.compare(0, prefix, kModulePrefix) != 0 ||
          file.compare(file.size() - suffix, suffix, kModuleSuffix) != 0) {
        continue;
      }
      const std::string name = file.substr(prefix, file.size() - prefix - suffix);
      if (IsPlainName(name) && std::find(names.begin(), names.end(), name) == names.end()) {
        names.push_back(name);
      }
    }
    closedir(listing);
  }
  return names;
}

mha_status FindBackend(const std::string& name, const std::vector<std::string>& plugin_path,
                       const mha_backend_iface** iface) {
  for (const mha_backend_iface* b : BuiltinBackends()) {
    if (name == b->name) {
      *iface = b;
      return MHA_OK;
    }
  }
  const std::string available = Joined(KnownBackendNames(plugin_path));
  if (!IsPlainName(name)) {
    return Fail(MHA_ERR_BACKEND_UNAVAILABLE,
                Format("backend \"%s\" is not a backend name; available: %s", name.c_str(),
                       available.c_str()));
  }
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto loaded = LoadedModules().find(name);
  if (loaded != LoadedModules().end()) {
    *iface = loaded->second;
    return MHA_OK;
  }
  const std::vector<std::string> dirs = PluginSearchDirs(plugin_path);
  for (const std::string& dir : dirs) {
    const std::string path = dir + "/" + kModulePrefix + name + kModuleSuffix;
    if (!FileExists(path)) continue;
    if (mha_status s = LoadModule(name, path, iface)) return s;
    LoadedModules()[name] = *iface;
    return MHA_OK;
  }
  return Fail(MHA_ERR_BACKEND_UNAVAILABLE,
              Format("backend \"%s\" is unknown: no built-in backend has that name and no %s%s%s"
                     " is in %s; available: %s",
                     name.c_str(), kModulePrefix, name.c_str(), kModuleSuffix,
                     Joined(dirs).c_str(), available.c_str()));
}

}  // namespace mha
