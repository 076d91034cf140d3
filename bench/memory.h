// Large buffers for benchmarks: 2 MiB aligned, backed by huge pages where the kernel
// allows, and touched once at allocation so no timed loop pays for page faults.
#ifndef MHA_BENCH_MEMORY_H_
#define MHA_BENCH_MEMORY_H_

#include <cstddef>
#include <cstdint>
#include <memory>

namespace mha_bench {

struct FreeDeleter {
  void operator()(void* p) const;
};

using Buffer = std::unique_ptr<uint8_t[], FreeDeleter>;

// Allocates `bytes` (rounded up to 2 MiB), advises huge pages and zero-fills it.
Buffer AllocateTouched(size_t bytes);

// The process's resident set and its high-water mark, in bytes (from /proc).
size_t ResidentBytes();
size_t PeakResidentBytes();

// Resets the high-water mark to the current resident set (Linux clear_refs);
// returns false where the kernel does not allow it.
bool ResetPeakResident();

}  // namespace mha_bench

#endif  // MHA_BENCH_MEMORY_H_
