#include "memory.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace mha_bench {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

// Reads a "Name:   1234 kB" line of /proc/self/status.
size_t StatusKilobytes(const char* name) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const size_t len = std::strlen(name);
  while (std::getline(status, line)) {
    if (line.compare(0, len, name) == 0 && line.size() > len && line[len] == ':') {
      return std::strtoull(line.c_str() + len + 1, nullptr, 10) * 1024;
    }
  }
  return 0;
}

}  // namespace

void FreeDeleter::operator()(void* p) const { std::free(p); }

Buffer AllocateTouched(size_t bytes) {
  const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, rounded == 0 ? kHugePage : rounded);
  if (!p) return nullptr;
  madvise(p, rounded, MADV_HUGEPAGE);
  std::memset(p, 0, rounded);
  return Buffer(static_cast<uint8_t*>(p));
}

size_t ResidentBytes() { return StatusKilobytes("VmRSS"); }

size_t PeakResidentBytes() { return StatusKilobytes("VmHWM"); }

bool ResetPeakResident() {
  FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

}  // namespace mha_bench
