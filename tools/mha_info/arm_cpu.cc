#include "arm_cpu.h"

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#endif

namespace mha_tools {

#if defined(__aarch64__) && defined(__linux__)

std::vector<std::string> ArmCpuFeatures() {
  const unsigned long hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);
  const struct {
    bool present;
    const char* name;
  } kFeatures[] = {
      {(hwcap & HWCAP_ASIMD) != 0, "asimd"},       {(hwcap & HWCAP_AES) != 0, "aes"},
      {(hwcap & HWCAP_ASIMDHP) != 0, "asimdhp"},   {(hwcap & HWCAP_ASIMDDP) != 0, "asimddp"},
      {(hwcap2 & HWCAP2_BF16) != 0, "bf16"},       {(hwcap2 & HWCAP2_I8MM) != 0, "i8mm"},
      {(hwcap & HWCAP_SVE) != 0, "sve"},           {(hwcap2 & HWCAP2_SVE2) != 0, "sve2"},
      {(hwcap2 & HWCAP2_SVEBF16) != 0, "svebf16"},
  };
  std::vector<std::string> names;
  for (const auto& f : kFeatures) {
    if (f.present) names.push_back(f.name);
  }
  return names;
}

int SveVectorBits() {
  if (!(getauxval(AT_HWCAP) & HWCAP_SVE)) return 0;
  const int vl = prctl(PR_SVE_GET_VL);
  return vl < 0 ? 0 : (vl & PR_SVE_VL_LEN_MASK) * 8;
}

#else

std::vector<std::string> ArmCpuFeatures() { return {}; }
int SveVectorBits() { return 0; }

#endif

}  // namespace mha_tools
