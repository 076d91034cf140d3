// mha_context: the backends a caller chose, each instantiated once, and the settings
// resolved from its options and the environment when the context was created.
#ifndef MHA_SRC_CONTEXT_H_
#define MHA_SRC_CONTEXT_H_

#include <atomic>
#include <string>
#include <vector>

#include "mha/backend.h"
#include "settings.h"

struct mha_context {
  struct Backend {
    const mha_backend_iface* iface;
    void* instance;
  };
  std::vector<Backend> backends;  // in order of preference
  std::atomic<int> num_threads{0};  // 0: OpenMP's default
  mha::Settings settings;

  ~mha_context();
};

namespace mha {

// Creates a context with a caller's options (NULL: all from the environment).
mha_status CreateContext(const mha_context_options* options, mha_context** out);

// Validates and runs one attention call on the first backend that supports it.
mha_status RunAttention(mha_context* ctx, const mha_tensor* q, const mha_tensor* k,
                        const mha_tensor* v, mha_tensor* out,
                        const mha_attention_desc* desc);

}  // namespace mha

#endif  // MHA_SRC_CONTEXT_H_
