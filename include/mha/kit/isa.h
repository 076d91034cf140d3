// The SIMD levels of mha_isa, in one table that the core, the backends, the bench, the
// tests and mha-info all read: a level's name (as MHA_MAX_ISA and
// mha_context_options.max_isa's docs spell it) and what it adds.
#ifndef MHA_KIT_ISA_H_
#define MHA_KIT_ISA_H_

#include <cstddef>

#include "mha/mha.h"

namespace mha {

struct IsaLevel {
  mha_isa isa;
  const char* name;
  const char* adds;  // the instructions this level adds to the one below
};

// Every level, lowest first; MHA_ISA_NATIVE last.
inline constexpr IsaLevel kIsaLevels[] = {
    {MHA_ISA_SCALAR, "scalar", "no SIMD"},
    {MHA_ISA_SSE4, "sse4", "SSE4.2, 128-bit vectors"},
    {MHA_ISA_AVX2, "avx2", "AVX2 and FMA, 256-bit vectors"},
    {MHA_ISA_AVX512, "avx512", "AVX-512 F/BW/DQ/VL, 512-bit vectors"},
    {MHA_ISA_AVX512_BF16, "avx512_bf16", "AVX-512 VNNI, VBMI2 and BF16 dot products"},
    {MHA_ISA_NATIVE, "native", "no cap: the best this CPU has"},
};

// The entry of a level; nullptr for a value that is not an mha_isa.
inline const IsaLevel* FindIsaLevel(int isa) {
  for (const IsaLevel& level : kIsaLevels) {
    if (level.isa == isa) return &level;
  }
  return nullptr;
}

inline const char* IsaName(int isa) {
  const IsaLevel* level = FindIsaLevel(isa);
  return level ? level->name : "?";
}

}  // namespace mha

#endif  // MHA_KIT_ISA_H_
