// The mha_isa functions of the C API: names from the kit's table, support from the CPU.

#include "error.h"
#include "hwy/targets.h"
#include "mha/kit/isa.h"

namespace {

bool CpuHas(mha_isa isa) {
  const int64_t targets = hwy::SupportedTargets();
  switch (isa) {
    case MHA_ISA_SCALAR:
    case MHA_ISA_NATIVE: return true;
#if HWY_ARCH_X86
    case MHA_ISA_SSE4: return (targets & HWY_SSE4) != 0;
    case MHA_ISA_AVX2: return (targets & HWY_AVX2) != 0;
    case MHA_ISA_AVX512: return (targets & HWY_AVX3) != 0;
    // Highway's AVX3_DL bit depends on how the caller was compiled (HWY_WANT_AVX3_DL)
    // and does not require BF16; ask the CPU.
    case MHA_ISA_AVX512_BF16:
      return (targets & HWY_AVX3) != 0 && __builtin_cpu_supports("avx512bf16") &&
             __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi2");
#endif
#if HWY_ARCH_ARM_A64
    // SVE_256 and SVE2_128 are Highway's SVE and SVE2 specialised for one vector length.
    case MHA_ISA_NEON: return (targets & HWY_NEON) != 0;
    case MHA_ISA_SVE: return (targets & (HWY_SVE | HWY_SVE_256)) != 0;
    case MHA_ISA_SVE2: return (targets & (HWY_SVE2 | HWY_SVE2_128)) != 0;
#endif
    default: return false;
  }
}

}  // namespace

extern "C" {

const char* mha_isa_name(mha_isa isa) {
  const mha::IsaLevel* level = mha::FindIsaLevel(isa);
  return level ? level->name : nullptr;
}

mha_status mha_isa_from_name(const char* name, mha_isa* out) {
  if (!out) return mha::Invalid("out is NULL");
  if (const mha::IsaLevel* level = mha::FindIsaLevelNamed(name)) {
    *out = level->isa;
    return MHA_OK;
  }
  return mha::Invalid(mha::Format("\"%s\" is not an ISA level; expected one of %s",
                                  name ? name : "(null)",
                                  mha::IsaLevelNames(/*this_arch_only=*/false).c_str()));
}

int mha_isa_supported(mha_isa isa) { return mha::FindIsaLevel(isa) && CpuHas(isa) ? 1 : 0; }

}  // extern "C"
