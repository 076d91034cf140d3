// The Arm CPU features that decide which kernels can run, from the kernel's HWCAP bits
// (what the process may use, also under an emulator, whose /proc/cpuinfo describes
// the host), named as /proc/cpuinfo's "Features" line names them.
#ifndef MHA_TOOLS_MHA_INFO_ARM_CPU_H_
#define MHA_TOOLS_MHA_INFO_ARM_CPU_H_

#include <string>
#include <vector>

namespace mha_tools {

// Empty on other architectures.
std::vector<std::string> ArmCpuFeatures();

// The SVE vector length of this thread in bits; 0 without SVE or off Arm.
int SveVectorBits();

}  // namespace mha_tools

#endif  // MHA_TOOLS_MHA_INFO_ARM_CPU_H_
