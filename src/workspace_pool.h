// Buffers of finished calls kept for the next ones: the first touch of fresh pages
// costs more than the work of a small call, and several calls may run at once, each
// with its own buffer.
#ifndef MHA_SRC_WORKSPACE_POOL_H_
#define MHA_SRC_WORKSPACE_POOL_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace mha {

class WorkspacePool {
 public:
  struct Buffer {
    std::unique_ptr<unsigned char[]> data;
    int64_t bytes = 0;
  };

  // A buffer of at least `bytes`; data is NULL when it cannot be allocated.
  Buffer Acquire(int64_t bytes);
  void Release(Buffer buffer);

 private:
  std::mutex mutex_;
  std::vector<Buffer> idle_;
};

// Hands its buffer back to the pool when it leaves scope.
class PooledBuffer {
 public:
  PooledBuffer(WorkspacePool* pool, int64_t bytes)
      : pool_(pool), buffer_(pool->Acquire(bytes)) {}
  ~PooledBuffer() {
    if (buffer_.data) pool_->Release(std::move(buffer_));
  }
  PooledBuffer(const PooledBuffer&) = delete;
  PooledBuffer& operator=(const PooledBuffer&) = delete;
  unsigned char* get() const { return buffer_.data.get(); }

 private:
  WorkspacePool* pool_;
  WorkspacePool::Buffer buffer_;
};

}  // namespace mha

#endif  // MHA_SRC_WORKSPACE_POOL_H_
