// The Highway targets the per-target tests run: every compiled one this CPU supports,
// and a scope in which contexts choose one of them, as MHA_MAX_ISA would.
#ifndef MHA_TESTS_HIGHWAY_TARGETS_H_
#define MHA_TESTS_HIGHWAY_TARGETS_H_

#include <cstdint>
#include <vector>

#include "hwy/targets.h"

namespace mha_test {

// Makes the backend choose `target` (contexts created while it lives) by hiding the
// better ones.
class ScopedTarget {
 public:
  explicit ScopedTarget(int64_t target) {
    hwy::SetSupportedTargetsForTest(0);
    hwy::SetSupportedTargetsForTest(hwy::SupportedTargets() & ~(target - 1));
  }
  ~ScopedTarget() { hwy::SetSupportedTargetsForTest(0); }
  ScopedTarget(const ScopedTarget&) = delete;
  ScopedTarget& operator=(const ScopedTarget&) = delete;
};

// Compiled and supported targets, best first.
inline std::vector<int64_t> Targets() {
  hwy::SetSupportedTargetsForTest(0);
  return hwy::SupportedAndGeneratedTargets();
}

}  // namespace mha_test

#endif  // MHA_TESTS_HIGHWAY_TARGETS_H_
