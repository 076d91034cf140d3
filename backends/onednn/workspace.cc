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
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  madvise(data, size, MADV_HUGEPAGE);  // advisory: fewer, cheaper first-touch faults
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
