// Scratch memory kept across calls. First-touch page faults cost ~10 us per 4 KiB
// page on the machines we measure, so buffers are mapped once, backed by huge pages
// where the kernel allows, and reused; each concurrent call leases its own set.
#ifndef MHA_BACKENDS_ONEDNN_WORKSPACE_H_
#define MHA_BACKENDS_ONEDNN_WORKSPACE_H_

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace mha {
namespace onednn {

// A mapping that grows to the largest size asked for and never shrinks.
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  // At least `bytes` of 64-byte aligned memory; throws std::bad_alloc on failure.
  void* Reserve(size_t bytes);
  template <typename T>
  T* Reserve(size_t count) {
    return static_cast<T*>(Reserve(count * sizeof(T)));
  }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

// Everything one attention call needs besides the primitives.
struct Workspace {
  Buffer scores;    // f32 logits of a chunk, softmaxed in place: [heads, rows, keys]
  Buffer row_max;   // f32 largest visible logit of each row
  Buffer probs16;   // bf16 copy of the probs when the P x V matmul runs in bf16
  Buffer q_staged;  // f32 copies of operands oneDNN cannot read as they are
  Buffer k_staged;
  Buffer v_staged;
  Buffer out_staged;
  Buffer scratchpad;  // oneDNN primitives' scratchpad (user mode)
};

// Hands out workspaces, one per concurrent call, and keeps them for later calls.
class WorkspacePool {
 public:
  class Lease {
   public:
    Lease(WorkspacePool* pool, std::unique_ptr<Workspace> workspace)
        : pool_(pool), workspace_(std::move(workspace)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_->Return(std::move(workspace_)); }
    Workspace& operator*() const { return *workspace_; }

   private:
    WorkspacePool* pool_;
    std::unique_ptr<Workspace> workspace_;
  };

  Lease Acquire();

 private:
  void Return(std::unique_ptr<Workspace> workspace);

  std::mutex mutex_;
  std::vector<std::unique_ptr<Workspace>> idle_;
};

}  // namespace onednn
}  // namespace mha

#endif  // MHA_BACKENDS_ONEDNN_WORKSPACE_H_
