// mha-info: what this machine and this build of mha offer, for bug reports and for the
// header of every benchmark report; each available backend also runs a small checked
// attention (self_check.h).
//
//   mha-info          readable text
//   mha-info --json   the same as JSON
#include <omp.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "arm_cpu.h"
#include "hwy/highway.h"
#include "hwy/targets.h"
#include "isa_levels.h"
#include "json_value.h"
#include "mha/kit/isa.h"
#include "mha/mha.h"
#include "self_check.h"

extern char** environ;

namespace mha_tools {
namespace {

// CPU flags that decide which kernels can run.
constexpr const char* kRelevantFlags[] = {
    "sse4_1",      "sse4_2",   "avx",         "avx2",        "fma",
    "f16c",        "avx512f",  "avx512bw",    "avx512vl",    "avx512_vnni",
    "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
};

// Environment variables that change what mha, OpenMP, oneDNN or OpenBLAS do.
constexpr const char* kEnvPrefixes[] = {"MHA_", "OMP_", "GOMP_", "ONEDNN_", "DNNL_",
                                        "OPENBLAS_"};


std::string CpuInfoField(const std::string& key) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const size_t start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

std::string ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

JsonValue Caches() {
  JsonValue caches = JsonValue::Object();
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i);
    const std::string level = ReadLine(dir + "/level");
    if (level.empty()) break;
    std::string type = ReadLine(dir + "/type");
    const std::string name =
        "L" + level + (type == "Data" ? "d" : type == "Instruction" ? "i" : "");
    caches.Set(name, ReadLine(dir + "/size"));
  }
  return caches;
}

// The x86 flags of kRelevantFlags that /proc/cpuinfo lists.
JsonValue X86Flags() {
  std::istringstream words(CpuInfoField("flags"));
  const std::set<std::string> flags{std::istream_iterator<std::string>(words),
                                    std::istream_iterator<std::string>()};
  JsonValue relevant = JsonValue::Array();
  for (const char* f : kRelevantFlags) {
    if (flags.count(f)) relevant.Push(f);
  }
  return relevant;
}

JsonValue Cpu() {
  JsonValue cpu = JsonValue::Object();
  std::string model = CpuInfoField("model name");
  if (model.empty()) model = CpuInfoField("Model");
  cpu.Set("model", model);
#if defined(__aarch64__)
  // Arm's /proc/cpuinfo: an implementer code (0x41 Arm, 0x61 Apple, ...), the
  // architecture and a part number instead of x86's vendor, family and model.
  cpu.Set("arch", "aarch64");
  cpu.Set("vendor", CpuInfoField("CPU implementer"));
  cpu.Set("family", CpuInfoField("CPU architecture"));
  cpu.Set("model_id", CpuInfoField("CPU part"));
  JsonValue flags = JsonValue::Array();
  for (const std::string& f : ArmCpuFeatures()) flags.Push(f);
  cpu.Set("flags", std::move(flags));
  cpu.Set("sve_vector_bits", SveVectorBits());
  cpu.Set("logical_cpus", omp_get_num_procs());
#else
  cpu.Set("vendor", CpuInfoField("vendor_id"));
  cpu.Set("family", CpuInfoField("cpu family"));
  cpu.Set("model_id", CpuInfoField("model\t"));
  cpu.Set("logical_cpus", omp_get_num_procs());
  cpu.Set("flags", X86Flags());
#endif
  cpu.Set("caches", Caches());
  return cpu;
}

JsonValue TargetList(int64_t mask) {
  JsonValue list = JsonValue::Array();
  for (int64_t bit = 1; bit != 0 && bit <= mask; bit <<= 1) {
    if (mask & bit) list.Push(hwy::TargetName(bit));
  }
  return list;
}

// The CPU's Highway targets, and the one the highway backend runs: asked of the
// backend, whose compiled target set (not this program's) decides.
JsonValue Highway() {
  JsonValue hwy_info = JsonValue::Object();
  hwy_info.Set("supported", TargetList(hwy::SupportedTargets()));
  mha_context* ctx = nullptr;
  if (mha_context_create("highway", &ctx) == MHA_OK) {
    hwy_info.Set("chosen", mha_context_isa(ctx));
    mha_context_destroy(ctx);
  } else {
    hwy_info.Set("chosen", std::string("error: ") + mha_last_error());
  }
  return hwy_info;
}

// A context of `backend` capped at `level`; returns its ISA or the error.
std::string IsaUnderCap(const std::string& backend, mha_isa level) {
  mha_context* ctx = mha_bench::CreateContextCapped(backend, level);
  if (!ctx) return std::string("error: ") + mha_last_error();
  std::string isa = mha_context_isa(ctx);
  mha_context_destroy(ctx);
  return isa;
}

JsonValue Backends() {
  JsonValue backends = JsonValue::Array();
  for (int i = 0; i < mha_backend_count(); ++i) {
    const std::string name = mha_backend_name(i);
    JsonValue b = JsonValue::Object();
    b.Set("name", name);
    const bool available = mha_backend_available(name.c_str()) != 0;
    b.Set("available", available);
    if (!available) {
      b.Set("reason", mha_last_error());
    } else {
      mha_context* ctx = nullptr;
      if (mha_context_create(name.c_str(), &ctx) != MHA_OK) {
        b.Set("reason", mha_last_error());
      } else {
        b.Set("isa", mha_context_isa(ctx));
        mha_context_destroy(ctx);
        if (const char* version = mha_backend_version(name.c_str())) {
          b.Set("version", version);
        }
        JsonValue per_cap = JsonValue::Object();
        for (auto level = std::rbegin(mha::kIsaLevels); level != std::rend(mha::kIsaLevels);
             ++level) {
          if (!mha::IsaOfThisArch(*level)) continue;  // refused: another architecture's
          per_cap.Set(level->name, IsaUnderCap(name, level->isa));
        }
        b.Set("isa_per_MHA_MAX_ISA", std::move(per_cap));
        b.Set("self_check", SelfCheck(name));
      }
    }
    backends.Push(std::move(b));
  }
  return backends;
}

JsonValue Environment() {
  JsonValue env = JsonValue::Object();
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    for (const char* prefix : kEnvPrefixes) {
      if (entry.compare(0, std::strlen(prefix), prefix) == 0) {
        const size_t eq = entry.find('=');
        env.Set(entry.substr(0, eq), eq == std::string::npos ? "" : entry.substr(eq + 1));
        break;
      }
    }
  }
  return env;
}

JsonValue Collect() {
  JsonValue info = JsonValue::Object();
  info.Set("mha_version", mha_version());
  info.Set("cpu", Cpu());
  info.Set("highway", Highway());
  info.Set("backends", Backends());
  JsonValue omp = JsonValue::Object();
  omp.Set("max_threads", omp_get_max_threads());
  omp.Set("num_procs", omp_get_num_procs());
  info.Set("openmp", std::move(omp));
  info.Set("env", Environment());
  return info;
}

}  // namespace
}  // namespace mha_tools

int main(int argc, char** argv) {
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else {
      std::cerr << "usage: mha-info [--json]\n";
      return 2;
    }
  }
  const mha_tools::JsonValue info = mha_tools::Collect();
  if (json) {
    info.WriteJson(std::cout);
    std::cout << '\n';
  } else {
    info.WriteText(std::cout);
  }
  return 0;
}
