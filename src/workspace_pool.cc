#include "workspace_pool.h"

#include <new>

namespace mha {

WorkspacePool::Buffer WorkspacePool::Acquire(int64_t bytes) {
  Buffer buffer;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      buffer = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (buffer.bytes < bytes) {
    buffer.data.reset(new (std::nothrow) unsigned char[static_cast<size_t>(bytes)]);
    buffer.bytes = buffer.data ? bytes : 0;
  }
  return buffer;
}

void WorkspacePool::Release(Buffer buffer) {
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(buffer));
}

}  // namespace mha
