// The SIMD levels of mha_isa, in one table that the core, the backends, the bench, the
// tests and mha-info all read: a level's name (as MHA_MAX_ISA and
// mha_context_options.max_isa's docs spell it) and what it adds.
#ifndef MHA_KIT_ISA_H_
#define MHA_KIT_ISA_H_

#include <strings.h>

#include <cstddef>
#include <string>

#include "mha/mha.h"

namespace mha {

// The architecture a level belongs to; kAny: scalar and native, on every one.
enum class IsaArch { kAny, kX86, kArm };

struct IsaLevel {
  mha_isa isa;
  const char* name;
  const char* adds;  // the instructions this level adds to the one below
  IsaArch arch = IsaArch::kAny;
};

// Every level, lowest first within its architecture; MHA_ISA_NATIVE last.
inline constexpr IsaLevel kIsaLevels[] = {
    {MHA_ISA_SCALAR, "scalar", "no SIMD"},
    {MHA_ISA_SSE4, "sse4", "SSE4.2, 128-bit vectors", IsaArch::kX86},
    {MHA_ISA_AVX2, "avx2", "AVX2 and FMA, 256-bit vectors", IsaArch::kX86},
    {MHA_ISA_AVX512, "avx512", "AVX-512 F/BW/DQ/VL, 512-bit vectors", IsaArch::kX86},
    {MHA_ISA_AVX512_BF16, "avx512_bf16", "AVX-512 VNNI, VBMI2 and BF16 dot products",
     IsaArch::kX86},
    {MHA_ISA_NEON, "neon", "AArch64 Advanced SIMD with AES, 128-bit vectors", IsaArch::kArm},
    {MHA_ISA_SVE, "sve", "SVE, vectors of 128 to 2048 bits", IsaArch::kArm},
    {MHA_ISA_SVE2, "sve2", "SVE2", IsaArch::kArm},
    {MHA_ISA_NATIVE, "native", "no cap: the best this CPU has"},
};

// The architecture this library is built for.
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
inline constexpr IsaArch kThisIsaArch = IsaArch::kX86;
#elif defined(__aarch64__)
inline constexpr IsaArch kThisIsaArch = IsaArch::kArm;
#else
inline constexpr IsaArch kThisIsaArch = IsaArch::kAny;  // scalar and native only
#endif

inline const char* IsaArchName(IsaArch arch) {
  switch (arch) {
    case IsaArch::kX86: return "x86";
    case IsaArch::kArm: return "Arm";
    default: return "any";
  }
}

// Whether the level can apply to this build's CPU (scalar and native always).
inline bool IsaOfThisArch(const IsaLevel& level) {
  return level.arch == IsaArch::kAny || level.arch == kThisIsaArch;
}

// The entry of a level; nullptr for a value that is not an mha_isa.
inline const IsaLevel* FindIsaLevel(int isa) {
  for (const IsaLevel& level : kIsaLevels) {
    if (level.isa == isa) return &level;
  }
  return nullptr;
}

// The level named `name` in any case; nullptr for none (or a null name).
inline const IsaLevel* FindIsaLevelNamed(const char* name) {
  for (const IsaLevel& level : kIsaLevels) {
    if (name && strcasecmp(name, level.name) == 0) return &level;
  }
  return nullptr;
}

// The levels' names joined by ", ": every architecture's, or this build's only.
inline std::string IsaLevelNames(bool this_arch_only) {
  std::string names;
  for (const IsaLevel& level : kIsaLevels) {
    if (this_arch_only && !IsaOfThisArch(level)) continue;
    names += names.empty() ? level.name : std::string(", ") + level.name;
  }
  return names;
}

inline const char* IsaName(int isa) {
  const IsaLevel* level = FindIsaLevel(isa);
  return level ? level->name : "?";
}

}  // namespace mha

#endif  // MHA_KIT_ISA_H_
