// Primitives of one backend instance, created once per shape and reused. A key
// spells out everything a primitive depends on (kind, dims, strides, dtypes, fused
// constants), so a repeated call finds its primitives and creates nothing.
#ifndef MHA_BACKENDS_ONEDNN_PRIMITIVE_CACHE_H_
#define MHA_BACKENDS_ONEDNN_PRIMITIVE_CACHE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace mha {
namespace onednn {

struct CachedPrimitive {
  dnnl::primitive primitive;
  size_t scratchpad_bytes = 0;
  std::string impl;  // pd.impl_info_str(), e.g. "brg:avx512_core_bf16"
};

using PrimitiveKey = std::vector<int64_t>;

// A strided tensor as oneDNN sees it; AppendTo writes all of it into a key.
struct TensorSpec {
  dnnl::memory::dims dims;
  dnnl::memory::dims strides;
  dnnl::memory::data_type dtype;

  // The strides of dims of size 1 do not move any element; oneDNN 2.6's brgemm matmul
  // still takes a tensor for a plain (dense) one only where they hold the dense value,
  // so Desc() gives each the largest extent (stride x size) of the dims inside it.
  // Without that, a dense {1, 1, rows, D} or a key slice of a dense K runs as gemm:jit.
  dnnl::memory::desc Desc() const;
  void AppendTo(PrimitiveKey* key) const;
};

// Thread-safe: lookups and creations are serialised (creation is rare). Holds at
// most kCapacity primitives and starts over when full, so that a stream of new shapes
// (a decode step per key length) cannot grow it without bound.
class PrimitiveCache {
 public:
  static constexpr size_t kCapacity = 1024;

  // Returns the primitive for `key`, calling `create` on a miss.
  std::shared_ptr<const CachedPrimitive> Get(const PrimitiveKey& key,
                                             const std::function<CachedPrimitive()>& create);

 private:
  std::mutex mutex_;
  std::map<PrimitiveKey, std::shared_ptr<const CachedPrimitive>> entries_;
};

// Primitives created by every instance of this process so far (a test hook).
int64_t PrimitivesCreated();

}  // namespace onednn
}  // namespace mha

#endif  // MHA_BACKENDS_ONEDNN_PRIMITIVE_CACHE_H_
