// Running a flash plan: its work items on the OpenMP threads in a fixed order, then
// the exact merge of the decode path's key splits.
#ifndef MHA_BACKENDS_HIGHWAY_FLASH_RUN_H_
#define MHA_BACKENDS_HIGHWAY_FLASH_RUN_H_

#include <cstdint>

#include "flash_plan.h"

namespace mha {

// One work item of one element type on one target, chosen once per call.
using FlashItemFn = void (*)(const FlashPlan& plan, int64_t item, float* scratch);

// Runs every item on p.num_threads threads, in units of plan.unit_q_blocks
// consecutive steps, with per-thread scratch from `scratch` (num_threads *
// plan.scratch_floats floats) and, on the decode path,
// merges the splits in a fixed order: results do not depend on the thread count.
void RunFlash(const FlashPlan& plan, FlashItemFn item_fn, float* scratch);

// For an unsplit prefill item: the item its thread likely runs next (the next
// step of its unit, else the unit num_threads units on, as the dynamic schedule
// runs units of equal cost in turn), or -1 for none.
int64_t NextItemOfThread(const FlashPlan& plan, int64_t item);

}  // namespace mha

#endif  // MHA_BACKENDS_HIGHWAY_FLASH_RUN_H_
