// The dispatched entry points: one per K/V element type, each compiled for every
// Highway target. The backend picks the table entry of the capped target once per
// call (not HWY_DYNAMIC_DISPATCH, whose choice is process-wide).
#ifndef MHA_BACKENDS_HIGHWAY_FLASH_KERNELS_H_
#define MHA_BACKENDS_HIGHWAY_FLASH_KERNELS_H_

#include <cstddef>

#include "flash_run.h"

namespace mha {

// table_index: the HWY_EXPORT table slot of a compiled target (see TableIndex).
FlashItemFn FlashItemForF32(size_t table_index);
FlashItemFn FlashItemForBf16(size_t table_index);
FlashItemFn FlashItemForF16(size_t table_index);

}  // namespace mha

#endif  // MHA_BACKENDS_HIGHWAY_FLASH_KERNELS_H_
