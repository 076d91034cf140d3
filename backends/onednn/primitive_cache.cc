#include "primitive_cache.h"

#include <algorithm>
#include <atomic>

namespace mha {
namespace onednn {
namespace {

std::atomic<int64_t> primitives_created{0};

}  // namespace

dnnl::memory::desc TensorSpec::Desc() const {
  dnnl::memory::dims canonical = strides;
  const bool runtime =
      std::any_of(dims.begin(), dims.end(), [](int64_t d) { return d == DNNL_RUNTIME_DIM_VAL; }) ||
      std::any_of(strides.begin(), strides.end(),
                  [](int64_t s) { return s == DNNL_RUNTIME_DIM_VAL; });
  if (!runtime) {
    for (size_t i = dims.size(); i-- > 0;) {
      if (dims[i] != 1) continue;
      int64_t extent = 1;
      for (size_t j = i + 1; j < dims.size(); ++j) {
        extent = std::max<int64_t>(extent, canonical[j] * dims[j]);
      }
      canonical[i] = extent;
    }
  }
  return dnnl::memory::desc(dims, dtype, canonical);
}

void TensorSpec::AppendTo(PrimitiveKey* key) const {
  key->push_back(static_cast<int64_t>(dims.size()));
  key->insert(key->end(), dims.begin(), dims.end());
  key->insert(key->end(), strides.begin(), strides.end());
  key->push_back(static_cast<int64_t>(dtype));
}

std::shared_ptr<const CachedPrimitive> PrimitiveCache::Get(
    const PrimitiveKey& key, const std::function<CachedPrimitive()>& create) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = entries_.find(key);
  if (found != entries_.end()) return found->second;
  auto entry = std::make_shared<const CachedPrimitive>(create());
  primitives_created.fetch_add(1, std::memory_order_relaxed);
  if (entries_.size() >= kCapacity) entries_.clear();  // callers keep what they hold
  entries_.emplace(key, entry);
  return entry;
}

int64_t PrimitivesCreated() { return primitives_created.load(std::memory_order_relaxed); }

}  // namespace onednn
}  // namespace mha
