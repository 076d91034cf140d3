#include "isa_levels.h"

#include <cstdlib>

#include "hwy/targets.h"

namespace mha_bench {

std::vector<IsaLevel> IsaLevels() {
  if (const char* cap = std::getenv("MHA_MAX_ISA"); cap && *cap) return {{cap}};
  const int64_t targets = hwy::SupportedTargets();
  std::vector<IsaLevel> levels;
  if ((targets & HWY_AVX3) && __builtin_cpu_supports("avx512bf16")) {
    levels.push_back({"avx512_bf16"});
  }
  if (targets & HWY_AVX3) levels.push_back({"avx512"});
  if (targets & HWY_AVX2) levels.push_back({"avx2"});
  if (targets & HWY_SSE4) levels.push_back({"sse4"});
  levels.push_back({"scalar"});
  return levels;
}

mha_context* CreateContextCapped(const std::string& backend, const IsaLevel& level) {
  const char* old = std::getenv("MHA_MAX_ISA");
  const std::string saved = old ? old : "";
  setenv("MHA_MAX_ISA", level.cap, 1);
  mha_context* ctx = nullptr;
  const mha_status status = mha_context_create(backend.c_str(), &ctx);
  if (old) {
    setenv("MHA_MAX_ISA", saved.c_str(), 1);
  } else {
    unsetenv("MHA_MAX_ISA");
  }
  return status == MHA_OK ? ctx : nullptr;
}

mha_context* CreateBestContext(const std::string& backend) {
  const std::vector<IsaLevel> levels = IsaLevels();
  return levels.empty() ? nullptr : CreateContextCapped(backend, levels.front());
}

}  // namespace mha_bench
