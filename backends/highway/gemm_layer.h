// A linear layer packed for the Highway GEMM, and the kernels that read it (no SIMD
// here). The weights W [N, K] are stored transposed in panels of nr output features:
// panel p holds W[p * nr + j][k] at k * nr + j (f32), or, for the vdpbf16ps kernel,
// the bf16 pair W[.][2t] | W[.][2t + 1] << 16 at t * nr + j. Features past N and the
// odd k past K are zero.
#ifndef MHA_BACKENDS_HIGHWAY_GEMM_LAYER_H_
#define MHA_BACKENDS_HIGHWAY_GEMM_LAYER_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "mha/backend.h"

namespace mha {

enum class GemmKind {
  kF32,        // f32 panels, FMA tiles of the instance's Highway target
  kBf16Pairs,  // bf16 pair panels, vdpbf16ps tiles (x rounded to bf16)
};

// The per-target kernels of one kind.
struct GemmKernels {
  // c[r * c_stride + j] (+= when accumulate) sum_{k < kc} a[r][k] B[k][j] for r < rows
  // (1 <= rows <= mr), j < nr; a[r]: the A type of the kind (f32, or bf16 whose
  // pairs the kernel reads as uint32), b: a panel at k. kc >= 1.
  void (*tile)(int64_t rows, const void* const* a, const void* b, int64_t kc, float* c,
               int64_t c_stride, bool accumulate);
  // dst[0, padded) = x[0, count) as the kind's A type (a copy where x is that type),
  // zero past count.
  void (*convert_row)(const void* x, mha_dtype x_dtype, int64_t count, int64_t padded,
                      void* dst);
  mha_dtype a_dtype;  // what the tiles read
};

struct GemmTileShape {
  int64_t mr;  // rows of a tile
  int64_t nr;  // output features of a tile and of a panel
};

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

struct GemmLayer {
  int64_t n = 0, k = 0;
  GemmKind kind = GemmKind::kF32;
  GemmTileShape tile{};
  GemmKernels kernels{};
  const char* target_name = "";
  int64_t k_rows = 0;          // k rows of a panel: K, or K / 2 rounded up for pairs
  int64_t panel_elements = 0;  // 4-byte elements of one panel: k_rows * nr
  std::unique_ptr<uint32_t[], FreeDeleter> panels;  // 64-byte aligned
  std::vector<float> bias;  // [N] or empty

  // The panel holding output feature p * nr, at reduction index k (even for pairs).
  const void* PanelAt(int64_t p, int64_t k_index) const {
    const int64_t row = kind == GemmKind::kBf16Pairs ? k_index / 2 : k_index;
    return panels.get() + p * panel_elements + row * tile.nr;
  }
};

// Packs desc's weights for the kernels of the target at table_index (bf16 weights on
// the vdpbf16ps kernel when bf16_dot).
mha_status CreateGemmLayer(size_t table_index, const char* target_name, bool bf16_dot,
                           const mha_linear_desc& desc, GemmLayer** out,
                           mha_backend_report* report);

}  // namespace mha

#endif  // MHA_BACKENDS_HIGHWAY_GEMM_LAYER_H_
