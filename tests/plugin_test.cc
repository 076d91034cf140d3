// The module loader: a good module loads and runs, and every broken one is refused
// with a message that says why.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "mha/backend.h"
#include "mha/mha.hpp"
#include "test_util.h"

namespace mha_test {
namespace {

using Catch::Matchers::Contains;

// A context of `backend` whose plugin path is the test modules' directory.
mha_context_options ModuleOptions(const char* backend) {
  mha_context_options options = BackendOptions(backend);
  options.plugin_path = MHA_TEST_MODULE_DIR;
  return options;
}

// Points MHA_PLUGIN_PATH at the test modules for one scope, for the backend queries
// that read it on every call.
class PluginPath {
 public:
  explicit PluginPath(const std::string& dirs) { setenv("MHA_PLUGIN_PATH", dirs.c_str(), 1); }
  ~PluginPath() { unsetenv("MHA_PLUGIN_PATH"); }
};

TEST_CASE("a module on MHA_PLUGIN_PATH loads and runs", "[plugin]") {
  PluginPath path(MHA_TEST_MODULE_DIR);
  ScopedContext ctx("testmod");
  REQUIRE(ctx.status() == MHA_OK);
  CHECK(std::string(mha_context_backend(ctx.get())) == "testmod");
  CHECK(std::string(mha_context_isa(ctx.get())) == "test_isa");
  Dense q(1, 2, 1, 4), k(1, 3, 1, 4), v(1, 3, 1, 4), out(1, 2, 1, 4);
  REQUIRE(mha_attention(ctx.get(), q.get(), k.get(), v.get(), out.get(), nullptr) == MHA_OK);
  for (float x : out.values) CHECK(x == 7.0f);

  const std::vector<std::string> names = mha::BackendNames();
  CHECK(std::find(names.begin(), names.end(), "testmod") != names.end());
  CHECK(mha_backend_available("testmod") == 1);
}

TEST_CASE("a call the module declines falls through to the next backend", "[plugin]") {
  ScopedContext ctx(ModuleOptions("testmod,reference"));
  REQUIRE(ctx.status() == MHA_OK);
  Dense q(1, 2, 1, 8), k(1, 3, 1, 8), v(1, 3, 1, 8), out(1, 2, 1, 8);
  std::fill(v.values.begin(), v.values.end(), 0.25f);
  REQUIRE(mha_attention(ctx.get(), q.get(), k.get(), v.get(), out.get(), nullptr) == MHA_OK);
  for (float x : out.values) CHECK(x == 0.25f);  // the reference ran

  ScopedContext alone(ModuleOptions("testmod"));
  CHECK(mha_attention(alone.get(), q.get(), k.get(), v.get(), out.get(), nullptr) ==
        MHA_ERR_UNSUPPORTED);
  CHECK_THAT(mha_last_error(), Contains("testmod: head_dim=8: runs only 4"));
}

TEST_CASE("a module without a GEMM hands linear layers to the next backend", "[plugin]") {
  const std::vector<float> w(4 * 8, 0.5f);
  ScopedContext alone(ModuleOptions("testmod"));
  mha_linear* linear = nullptr;
  CHECK(mha_linear_create(alone.get(), 4, 8, MHA_F32, w.data(), nullptr, &linear) ==
        MHA_ERR_UNSUPPORTED);
  CHECK(linear == nullptr);
  CHECK_THAT(mha_last_error(), Contains("testmod: has no GEMM"));

  ScopedContext chain(ModuleOptions("testmod,reference"));
  REQUIRE(mha_linear_create(chain.get(), 4, 8, MHA_F32, w.data(), nullptr, &linear) ==
          MHA_OK);
  CHECK(std::string(mha_linear_backend(linear)) == "reference");
  Dense x(1, 1, 1, 8, 1.0f), y(1, 1, 1, 4);
  REQUIRE(mha_linear_forward(linear, x.get(), y.get()) == MHA_OK);
  for (float value : y.values) CHECK(value == 4.0f);
  mha_linear_destroy(linear);
}

TEST_CASE("broken modules are refused with the reason", "[plugin]") {
  PluginPath path(MHA_TEST_MODULE_DIR);
  struct Broken { const char* name; std::string reason; };
  const Broken cases[] = {
      {"oldabi", "has backend ABI version 0, this libmha needs " +
                     std::to_string(MHA_BACKEND_ABI_VERSION)},
      {"noentry", "does not export mha_backend_get()"},
      {"missingdep", "libmha_test_dependency.so: cannot open shared object file"},
  };
  for (const Broken& broken : cases) {
    INFO(broken.name);
    ScopedContext ctx(broken.name);
    CHECK(ctx.status() == MHA_ERR_BACKEND_UNAVAILABLE);
    CHECK_THAT(mha_last_error(), Contains(broken.reason));
    CHECK(mha_backend_available(broken.name) == 0);
  }
}

TEST_CASE("a file that is not a library is refused", "[plugin]") {
  char dir[] = "/tmp/mha_plugin_XXXXXX";
  REQUIRE(mkdtemp(dir));
  const std::string file = std::string(dir) + "/libmha_backend_garbage.so";
  std::FILE* f = std::fopen(file.c_str(), "w");
  REQUIRE(f);
  std::fputs("not an ELF file\n", f);
  std::fclose(f);
  {
    PluginPath path(dir);
    ScopedContext ctx("garbage");
    CHECK(ctx.status() == MHA_ERR_BACKEND_UNAVAILABLE);
    CHECK_THAT(mha_last_error(), Contains("cannot load") && Contains(file));
  }
  std::remove(file.c_str());
  rmdir(dir);
}

TEST_CASE("an unknown name lists what is available, modules included", "[plugin]") {
  PluginPath path(std::string("/nonexistent:") + MHA_TEST_MODULE_DIR);
  ScopedContext ctx("nosuchbackend");
  CHECK(ctx.status() == MHA_ERR_BACKEND_UNAVAILABLE);
  const std::string error = mha_last_error();
  CHECK_THAT(error, Contains("testmod") && Contains("/nonexistent"));
  // The list is what mha_backend_name enumerates: the built-ins first (oneDNN among
  // them in a -DMHA_ONEDNN_BUILTIN=ON build), then the modules found.
  const std::vector<std::string> names = mha::BackendNames();
  std::string listed;
  for (const std::string& name : names) listed += (listed.empty() ? "" : ", ") + name;
  CHECK_THAT(error, Contains("available: " + listed));
  REQUIRE(names.size() >= 3);
  CHECK(names[0] == "highway");
  const size_t reference = names[1] == "onednn" ? 2 : 1;
  CHECK(names[reference] == "reference");
}

}  // namespace
}  // namespace mha_test
