#include "workspace.h"

#include <sys/mman.h>

#include <new>

namespace mha {
namespace onednn {

Buffer::~Buffer() {
  if (data_) munmap(data_, capacity_);
}

void* Buffer::Reserve(size_t bytes) {
  if (bytes <= capacity_) return data_;
  if (data_) munmap(data_, capacity_);
  data_ = nullptr;
  capacity_ = 0;
  // Huge pages only for buffers of at least one: a small buffer in a huge page would
  // cost 2 MiB of memory.
  constexpr size_t kHugePage = size_t{2} << 20, kPage = size_t{4} << 10;
  const size_t granule = bytes >= kHugePage ? kHugePage : kPage;
  const size_t size = (bytes + granule - 1) / granule * granule;
  void* data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (granule == kHugePage) madvise(data, size, MADV_HUGEPAGE);  // cheaper first touch
#endif
  data_ = data;
  capacity_ = size;
  return data_;
}

WorkspacePool::Lease WorkspacePool::Acquire() {
  std::unique_ptr<Workspace> workspace;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      workspace = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!workspace) workspace = std::make_unique<Workspace>();
  return Lease(this, std::move(workspace));
}

void WorkspacePool::Return(std::unique_ptr<Workspace> workspace) {
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(workspace));
}

}  // namespace onednn
}  // namespace mha
