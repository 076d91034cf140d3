// Flash attention over f32 K/V, compiled for every Highway target.
#include <cstdint>

#include "flash_kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "flash_f32.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "flash-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {

void FlashItemF32(const FlashPlan& plan, int64_t item, float* scratch) {
  FlashItem<float>(plan, item, scratch);
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mha {

HWY_EXPORT(FlashItemF32);

FlashItemFn FlashItemForF32(size_t table_index) {
  return HWY_DISPATCH_TABLE(FlashItemF32)[table_index];
}

}  // namespace mha
#endif  // HWY_ONCE
