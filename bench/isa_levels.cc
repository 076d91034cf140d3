#include "isa_levels.h"

#include <cstdlib>
#include <iterator>

#include "mha/kit/isa.h"

namespace mha_bench {

std::vector<mha_isa> IsaLevels() {
  if (const char* cap = std::getenv("MHA_MAX_ISA"); cap && *cap) {
    mha_isa level;
    return mha_isa_from_name(cap, &level) == MHA_OK ? std::vector<mha_isa>{level}
                                                    : std::vector<mha_isa>{};
  }
  std::vector<mha_isa> levels;
  for (auto it = std::rbegin(mha::kIsaLevels); it != std::rend(mha::kIsaLevels); ++it) {
    if (it->isa != MHA_ISA_NATIVE && mha_isa_supported(it->isa)) levels.push_back(it->isa);
  }
  return levels;
}

mha_context* CreateContextCapped(const std::string& backend, mha_isa level) {
  mha_context_options options;
  mha_context_options_init(&options);
  options.backend = backend.c_str();
  options.max_isa = level;
  mha_context* ctx = nullptr;
  return mha_context_create_with(&options, &ctx) == MHA_OK ? ctx : nullptr;
}

mha_context* CreateBestContext(const std::string& backend) {
  const std::vector<mha_isa> levels = IsaLevels();
  return levels.empty() ? nullptr : CreateContextCapped(backend, levels.front());
}

}  // namespace mha_bench
