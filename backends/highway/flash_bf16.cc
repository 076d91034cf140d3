// Flash attention over bf16 K/V, compiled for every Highway target.
#include <cstdint>

#include "flash_kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "flash_bf16.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "flash-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {

void FlashItemBf16(const FlashPlan& plan, int64_t item, float* scratch) {
  FlashItem<hwy::bfloat16_t>(plan, item, scratch);
}

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mha {

HWY_EXPORT(FlashItemBf16);

FlashItemFn FlashItemForBf16(size_t table_index) {
  return HWY_DISPATCH_TABLE(FlashItemBf16)[table_index];
}

}  // namespace mha
#endif  // HWY_ONCE
