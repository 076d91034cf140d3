// The Highway backend: the ABI table, the target chosen under MHA_MAX_ISA, and the
// per-instance cache of scratch memory (first touch of fresh pages is slow, so
// workspaces are reused across calls; several calls may run at once).
#include "highway_backend.h"

#include <cstdio>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "flash_bf16_avx512.h"
#include "flash_kernels.h"
#include "flash_plan.h"
#include "flash_run.h"
#include "gemm_layer.h"
#include "gemm_plan.h"
#include "hwy/aligned_allocator.h"
#include "hwy/targets.h"

namespace mha {
namespace {

struct Workspace {
  hwy::AlignedFreeUniquePtr<float[]> data;
  int64_t floats = 0;
};

struct Instance {
  int64_t target = HWY_SCALAR;  // the Highway target every call runs
  size_t table_index = 0;       // its slot in the HWY_EXPORT tables
  bool bf16_dot = false;        // AVX3_DL runs and the CPU has avx512_bf16
  std::mutex mutex;
  std::vector<std::unique_ptr<Workspace>> idle;
};

// The targets a cap allows: x86 levels allow their target and every lower one;
// the Arm levels name sets, as Highway's SVE_256 and SVE2_128 (SVE and SVE2 at one
// vector length) rank above SVE2. The core refuses a level of another architecture.
int64_t AllowedTargets(mha_isa max_isa) {
  constexpr int64_t kFallbacks = HWY_SCALAR | HWY_EMU128;
  constexpr int64_t kNeon = HWY_NEON | kFallbacks;
  constexpr int64_t kSve = HWY_SVE | HWY_SVE_256 | kNeon;
  switch (max_isa) {
    case MHA_ISA_SCALAR: return ~(HWY_SCALAR - 1);
    case MHA_ISA_SSE4: return ~(HWY_SSE4 - 1);
    case MHA_ISA_AVX2: return ~(HWY_AVX2 - 1);
    case MHA_ISA_AVX512: return ~(HWY_AVX3 - 1);
    case MHA_ISA_AVX512_BF16: return ~(HWY_AVX3_DL - 1);
    case MHA_ISA_NEON: return kNeon;
    case MHA_ISA_SVE: return kSve;
    case MHA_ISA_SVE2: return HWY_SVE2 | HWY_SVE2_128 | kSve;
    default: return ~int64_t{0};
  }
}

// The best compiled and supported target under the cap. Highway orders targets
// best first, from the lowest bit.
int64_t ChooseTarget(mha_isa max_isa) {
  const int64_t allowed = hwy::SupportedTargets() & HWY_TARGETS & AllowedTargets(max_isa);
  return allowed != 0 ? allowed & -allowed : HWY_SCALAR;
}

// The HWY_EXPORT table slot of `target`, computed as ChosenTarget::GetIndex does.
size_t TableIndex(int64_t target) {
  const int64_t mask = (HWY_CHOSEN_TARGET_SHIFT(target) | HWY_CHOSEN_TARGET_MASK_SCALAR) &
                       HWY_CHOSEN_TARGET_MASK_TARGETS;
  return hwy::Num0BitsBelowLS1Bit_Nonzero64(static_cast<uint64_t>(mask));
}

std::unique_ptr<Workspace> Acquire(Instance* inst, int64_t floats) {
  std::unique_ptr<Workspace> ws;
  {
    std::lock_guard<std::mutex> lock(inst->mutex);
    if (!inst->idle.empty()) {
      ws = std::move(inst->idle.back());
      inst->idle.pop_back();
    }
  }
  if (!ws) ws.reset(new (std::nothrow) Workspace);
  if (ws && ws->floats < floats) {
    ws->data = hwy::AllocateAligned<float>(static_cast<size_t>(floats));
    ws->floats = ws->data ? floats : 0;
  }
  if (ws && !ws->data) ws.reset();
  return ws;
}

void Release(Instance* inst, std::unique_ptr<Workspace> ws) {
  std::lock_guard<std::mutex> lock(inst->mutex);
  inst->idle.push_back(std::move(ws));
}

FlashItemFn KernelFor(const Instance& inst, mha_dtype kv_dtype) {
  switch (kv_dtype) {
    case MHA_BF16: return FlashItemForBf16(inst.table_index);
    case MHA_F16: return FlashItemForF16(inst.table_index);
    default: return FlashItemForF32(inst.table_index);
  }
}

mha_status Create(const mha_backend_config* config, void** instance,
                  mha_backend_report* report) {
  Instance* inst = new (std::nothrow) Instance;
  if (!inst) {
    std::snprintf(report->message, sizeof report->message, "out of memory");
    return MHA_ERR_OUT_OF_MEMORY;
  }
  inst->target = ChooseTarget(config->max_isa);
  inst->table_index = TableIndex(inst->target);
  inst->bf16_dot = inst->target == HWY_AVX3_DL && CpuHasAvx512Bf16();
  *instance = inst;
  return MHA_OK;
}

void Destroy(void* instance) { delete static_cast<Instance*>(instance); }

const char* Isa(const void* instance) {
  return hwy::TargetName(static_cast<const Instance*>(instance)->target);
}

int Supports(const void*, const mha_problem* p, mha_backend_report* report) {
  // Key indices are kept in int32 lanes.
  if (p->kv_len > INT32_MAX) {
    std::snprintf(report->message, sizeof report->message,
                  "kv_len=%lld exceeds the 2^31-1 keys of the highway kernels",
                  static_cast<long long>(p->kv_len));
    return 0;
  }
  return 1;
}

mha_status Attention(void* instance, const mha_problem* problem, mha_backend_report* report) {
  Instance* inst = static_cast<Instance*>(instance);
  const mha_problem& p = *problem;
  const bool bf16_dot = inst->bf16_dot && p.q.dtype == MHA_BF16 && p.k.dtype == MHA_BF16 &&
                        p.head_dim % 2 == 0;
  FlashPlan plan = MakeFlashPlan(p, bf16_dot);
  const int64_t scratch = p.num_threads * plan.scratch_floats;
  std::unique_ptr<Workspace> ws = Acquire(inst, scratch + PartialFloats(plan));
  if (!ws) {
    std::snprintf(report->message, sizeof report->message,
                  "could not allocate %lld bytes of scratch",
                  static_cast<long long>((scratch + PartialFloats(plan)) * 4));
    return MHA_ERR_OUT_OF_MEMORY;
  }
  plan.partials = ws->data.get() + scratch;
  RunFlash(plan, KernelFor(*inst, p.k.dtype), ws->data.get());
  Release(inst, std::move(ws));
  std::snprintf(report->impl, sizeof report->impl, "highway:%s:%s",
                plan.num_splits > 1 ? "decode" : "flash", hwy::TargetName(inst->target));
  return MHA_OK;
}

mha_status LinearCreate(void* instance, const mha_linear_desc* desc, void** linear,
                        mha_backend_report* report) {
  const Instance* inst = static_cast<const Instance*>(instance);
  GemmLayer* layer = nullptr;
  const mha_status s = CreateGemmLayer(inst->table_index, hwy::TargetName(inst->target),
                                       inst->bf16_dot, *desc, &layer, report);
  *linear = layer;
  return s;
}

void LinearDestroy(void*, void* linear) { delete static_cast<GemmLayer*>(linear); }

mha_status LinearForward(void* instance, const void* linear, const mha_linear_call* call,
                         mha_backend_report* report) {
  Instance* inst = static_cast<Instance*>(instance);
  const GemmLayer& layer = *static_cast<const GemmLayer*>(linear);
  const GemmPlan plan = MakeGemmPlan(layer, *call);
  const int64_t floats = GemmWorkspaceFloats(plan);
  std::unique_ptr<Workspace> ws = Acquire(inst, floats);
  if (!ws) {
    std::snprintf(report->message, sizeof report->message,
                  "could not allocate %lld bytes of scratch", static_cast<long long>(floats * 4));
    return MHA_ERR_OUT_OF_MEMORY;
  }
  RunGemm(plan, ws->data.get());
  Release(inst, std::move(ws));
  std::snprintf(report->impl, sizeof report->impl, "highway:%s:%s",
                layer.kind == GemmKind::kBf16Pairs ? "gemm_bf16" : "gemm", layer.target_name);
  return MHA_OK;
}

const mha_backend_iface kHighwayBackend = {
    /* .abi_version = */ MHA_BACKEND_ABI_VERSION,
    /* .name        = */ "highway",
    /* .version     = */ "1",
    /* .create      = */ Create,
    /* .destroy     = */ Destroy,
    /* .isa         = */ Isa,
    /* .supports    = */ Supports,
    /* .attention   = */ Attention,
    /* .linear_create  = */ LinearCreate,
    /* .linear_destroy = */ LinearDestroy,
    /* .linear_forward = */ LinearForward,
};

}  // namespace

const mha_backend_iface* HighwayBackend() { return &kHighwayBackend; }

}  // namespace mha
