// The oneDNN backend's table: instance life cycle, the ISA cap, and the boundary
// where every exception becomes a status and a message.
#include "onednn_backend.h"

#include <cstdio>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

#include "attention_runner.h"
#include "dnnl_compat.h"
#include "linear.h"
#include "mha/kit/isa.h"

namespace mha {
namespace {

using onednn::EngineState;

#define MHA_ONEDNN_STR2(x) #x
#define MHA_ONEDNN_STR(x) MHA_ONEDNN_STR2(x)

// Our version, then the oneDNN headers it was built against.
constexpr char kVersion[] = "1 (oneDNN " MHA_ONEDNN_STR(DNNL_VERSION_MAJOR) "." MHA_ONEDNN_STR(
    DNNL_VERSION_MINOR) "." MHA_ONEDNN_STR(DNNL_VERSION_PATCH) ")";

struct Instance {
  EngineState state;
  std::string effective_isa;  // oneDNN's, under the cap: "avx2"
};

void Report(mha_backend_report* report, const std::string& message) {
  if (report) std::snprintf(report->message, sizeof report->message, "%s", message.c_str());
}

// Runs `body`, turning every exception into a status with a message.
template <typename Body>
mha_status Guarded(mha_backend_report* report, Body body) {
  try {
    return body();
  } catch (const dnnl::error& e) {
    Report(report, std::string("oneDNN: ") + e.what() + " (dnnl_status " +
                       std::to_string(static_cast<int>(e.status)) + ")");
    return e.status == dnnl_unimplemented ? MHA_ERR_UNSUPPORTED : MHA_ERR_INTERNAL;
  } catch (const std::bad_alloc&) {
    Report(report, "out of memory for the oneDNN backend's workspace");
    return MHA_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    Report(report, std::string("oneDNN backend: ") + e.what());
    return MHA_ERR_INTERNAL;
  } catch (...) {
    Report(report, "oneDNN backend: unknown exception");
    return MHA_ERR_INTERNAL;
  }
}

// oneDNN has no scalar code path: its lowest level, sse41, stands for "scalar".
dnnl::cpu_isa DnnlIsa(mha_isa isa) {
  switch (isa) {
    case MHA_ISA_SCALAR:
    case MHA_ISA_SSE4: return dnnl::cpu_isa::sse41;
    case MHA_ISA_AVX2: return dnnl::cpu_isa::avx2;
    case MHA_ISA_AVX512: return dnnl::cpu_isa::avx512_core;
    case MHA_ISA_AVX512_BF16: return dnnl::cpu_isa::avx512_core_bf16;
    default: return onednn::kCpuIsaNoCap;
  }
}

std::string EffectiveIsaName() {
#if defined(__aarch64__)
  return "aarch64";  // the API's cpu_isa values are x86 levels only
#endif
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
#if DNNL_VERSION_MAJOR >= 3
    case dnnl::cpu_isa::avx2_vnni_2: return "avx2_vnni_2";
    case dnnl::cpu_isa::avx512_core_fp16: return "avx512_core_fp16";
    case dnnl::cpu_isa::avx512_core_amx_fp16: return "avx512_core_amx_fp16";
#endif
    default: return "unknown";
  }
}

// oneDNN's ISA cap is process-wide and fixed by the first primitive: the first
// instance sets it, and later instances must ask for the same one.
bool ApplyIsaCap(mha_isa requested, std::string* error) {
  static std::mutex mutex;
  static bool applied = false;
  static mha_isa applied_isa = MHA_ISA_NATIVE;
  std::lock_guard<std::mutex> lock(mutex);
  if (applied) {
    if (requested == applied_isa) return true;
    *error = std::string("max ISA ") + IsaName(requested) +
             " cannot take effect: oneDNN's ISA cap is process-wide and an earlier context "
             "fixed it at " +
             IsaName(applied_isa);
    return false;
  }
#if !defined(__x86_64__)
  // oneDNN 2.6's cpu_isa has x86 values only: its aarch64 levels
  // (asimd, sve_128 ... sve_512) are internal and cannot be capped through the API.
  if (requested != MHA_ISA_NATIVE) {
    *error = std::string("max ISA ") + IsaName(requested) +
             ": oneDNN's ISA cap names x86 levels only; on this CPU it runs uncapped (native)";
    return false;
  }
#endif
  if (requested != MHA_ISA_NATIVE &&
      dnnl::set_max_cpu_isa(DnnlIsa(requested)) != dnnl::status::success) {
    *error = std::string("max ISA ") + IsaName(requested) +
             ": oneDNN refused the cap (it was used in this process before mha loaded it)";
    return false;
  }
  applied = true;
  applied_isa = requested;
  return true;
}

// Whether bf16 matmuls run on brgemm here; elsewhere oneDNN's bf16 is slower than
// widening to f32 (gemm:jit) or missing (below avx512_core).
bool HasFastBf16(const dnnl::engine& engine) {
  const dnnl::memory::desc a({16, 16}, dnnl::memory::data_type::bf16, {16, 1});
  const dnnl::memory::desc c({16, 16}, dnnl::memory::data_type::f32, {16, 1});
  try {
    const auto pd = onednn::MakeMatmulPd(engine, a, a, c, 1.0f, 0.0f);
    return std::string(pd.impl_info_str()).rfind("brg", 0) == 0;
  } catch (const dnnl::error&) {
    return false;
  }
}

mha_status Create(const mha_backend_config* config, void** instance, mha_backend_report* report) {
  *instance = nullptr;
  return Guarded(report, [&] {
    std::string error;
    if (!ApplyIsaCap(config->max_isa, &error)) {
      Report(report, error);
      return MHA_ERR_INVALID_ARGUMENT;
    }
    auto created = std::make_unique<Instance>();
    created->state.scores_budget = config->scores_budget_bytes;
    created->state.fast_bf16 = HasFastBf16(created->state.engine);
    created->effective_isa = EffectiveIsaName();
    *instance = created.release();
    return MHA_OK;
  });
}

void Destroy(void* instance) { delete static_cast<Instance*>(instance); }

const char* Isa(const void* instance) {
  return static_cast<const Instance*>(instance)->effective_isa.c_str();
}

int Supports(const void*, const mha_problem*, mha_backend_report*) {
  // Every dtype combination runs: what oneDNN cannot read natively is widened to f32.
  return 1;
}

mha_status Attention(void* instance, const mha_problem* problem, mha_backend_report* report) {
  Instance& self = *static_cast<Instance*>(instance);
  return Guarded(report, [&] {
    std::string impl;
    onednn::RunAttention(self.state, *problem, &impl);
    // gemm:jit does not say which ISA it runs: name it.
    if (impl.find("avx") == std::string::npos && impl.find("sse") == std::string::npos) {
      impl += "@" + self.effective_isa;
    }
    std::snprintf(report->impl, sizeof report->impl, "onednn:%s", impl.c_str());
    return MHA_OK;
  });
}

const mha_backend_iface kOnednnBackend = {
    /* .abi_version = */ MHA_BACKEND_ABI_VERSION,
    /* .name        = */ "onednn",
    /* .version     = */ kVersion,
    /* .create      = */ Create,
    /* .destroy     = */ Destroy,
    /* .isa         = */ Isa,
    /* .supports    = */ Supports,
    /* .attention   = */ Attention,
    /* .linear_create = */
    [](void* instance, const mha_linear_desc* desc, void** linear, mha_backend_report* report) {
      *linear = nullptr;
      return Guarded(report, [&] {
        return onednn::LinearCreate(static_cast<Instance*>(instance)->state, *desc, linear);
      });
    },
    /* .linear_destroy = */ [](void*, void* linear) { onednn::LinearDestroy(linear); },
    /* .linear_forward = */
    [](void* instance, const void* linear, const mha_linear_call* call,
       mha_backend_report* report) {
      return Guarded(report, [&] {
        return onednn::LinearForward(static_cast<Instance*>(instance)->state, linear, *call,
                                     report);
      });
    },
};

}  // namespace

const mha_backend_iface* OnednnBackend() { return &kOnednnBackend; }

}  // namespace mha
