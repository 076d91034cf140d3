// Packing of the weights at create: W [N, K] (any dtype) into the panels of
// gemm_layer.h, once per layer, so that the tiles read each panel contiguously.
#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>

#include "gemm_kernels.h"
#include "gemm_layer.h"
#include "mha/kit/dtype.h"

namespace mha {
namespace {

// Panel p, f32: W[p * nr + j][k] at k * nr + j.
void PackF32(const mha_linear_desc& desc, const GemmLayer& layer, uint32_t* dst) {
  const int64_t nr = layer.tile.nr;
  for (int64_t p = 0; p * nr < layer.n; ++p) {
    float* panel = reinterpret_cast<float*>(dst + p * layer.panel_elements);
    const int64_t cols = std::min(nr, layer.n - p * nr);
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t row = (p * nr + j) * desc.weight_row_stride;
      for (int64_t k = 0; k < layer.k; ++k) {
        panel[k * nr + j] = LoadAsF32(desc.weight, desc.weight_dtype, row + k);
      }
    }
  }
}

// Panel p, bf16 pairs: W[p * nr + j][2t] | W[p * nr + j][2t + 1] << 16 at t * nr + j.
void PackBf16Pairs(const mha_linear_desc& desc, const GemmLayer& layer, uint32_t* dst) {
  const int64_t nr = layer.tile.nr;
  const uint16_t* w = static_cast<const uint16_t*>(desc.weight);
  for (int64_t p = 0; p * nr < layer.n; ++p) {
    uint32_t* panel = dst + p * layer.panel_elements;
    const int64_t cols = std::min(nr, layer.n - p * nr);
    for (int64_t j = 0; j < cols; ++j) {
      const uint16_t* row = w + (p * nr + j) * desc.weight_row_stride;
      for (int64_t t = 0; t < layer.k_rows; ++t) {
        const uint32_t hi = 2 * t + 1 < layer.k ? row[2 * t + 1] : 0;
        panel[t * nr + j] = row[2 * t] | hi << 16;
      }
    }
  }
}

// Panels of 2 MiB or more sit on transparent huge pages where the kernel allows them:
// decode streams them once per call, and 4 KiB pages cost a TLB walk every 4 KiB.
uint32_t* AllocatePanels(int64_t elements) {
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t bytes = static_cast<size_t>(elements) * 4;
  const size_t align = bytes >= kHugePage ? kHugePage : 64;
  void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
  if (p && align == kHugePage) madvise(p, bytes, MADV_HUGEPAGE);
  return static_cast<uint32_t*>(p);
}

}  // namespace

mha_status CreateGemmLayer(size_t table_index, const char* target_name, bool bf16_dot,
                           const mha_linear_desc& desc, GemmLayer** out,
                           mha_backend_report* report) {
  std::unique_ptr<GemmLayer> layer(new (std::nothrow) GemmLayer);
  const auto out_of_memory = [&](int64_t bytes) {
    std::snprintf(report->message, sizeof report->message,
                  "could not allocate %lld bytes for the packed weights",
                  static_cast<long long>(bytes));
    return MHA_ERR_OUT_OF_MEMORY;
  };
  if (!layer) return out_of_memory(sizeof(GemmLayer));
  layer->n = desc.out_features;
  layer->k = desc.in_features;
  layer->target_name = target_name;
  const bool pairs = bf16_dot && desc.weight_dtype == MHA_BF16;
  layer->kind = pairs ? GemmKind::kBf16Pairs : GemmKind::kF32;
  layer->kernels = pairs ? GemmKernelsBf16Avx512() : GemmKernelsF32(table_index);
  layer->tile = pairs ? GemmTileShapeBf16Avx512() : GemmTileShapeF32(table_index);
  layer->k_rows = pairs ? (layer->k + 1) / 2 : layer->k;
  layer->panel_elements = layer->k_rows * layer->tile.nr;
  const int64_t num_panels = (layer->n + layer->tile.nr - 1) / layer->tile.nr;
  const int64_t elements = num_panels * layer->panel_elements;
  layer->panels.reset(AllocatePanels(elements));
  if (!layer->panels) return out_of_memory(elements * 4);
  // Zero first: the features past N of the last panel stay zero.
  std::fill_n(layer->panels.get(), elements, 0u);
  if (pairs) {
    PackBf16Pairs(desc, *layer, layer->panels.get());
  } else {
    PackF32(desc, *layer, layer->panels.get());
  }
  if (desc.bias) {
    try {
      layer->bias.assign(desc.bias, desc.bias + layer->n);
    } catch (const std::bad_alloc&) {
      return out_of_memory(layer->n * 4);
    }
  }
  *out = layer.release();
  return MHA_OK;
}

}  // namespace mha
