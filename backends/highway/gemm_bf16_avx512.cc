// The GEMM kernels on vdpbf16ps (AVX512_BF16), which Highway 1.0.3 cannot emit:
// intrinsics in functions of their own target, used only where CpuHasAvx512Bf16()
// (see bf16_avx512_target.h). A tile is 6 rows x 4 vectors of 16 features: each pair
// of k broadcasts one bf16 pair per row of x against 4 vectors of weight pairs.
// x is rounded to bf16 to nearest even; accumulation is f32.
#include <cstring>

#include "bf16_avx512_target.h"
#include "gemm_kernels.h"
#include "mha/kit/dtype.h"

namespace mha {
namespace {

constexpr int kRows = 6;
constexpr int kVecs = 4;
constexpr int64_t kPanel = kVecs * 16;

}  // namespace

#ifdef MHA_BF16_TARGET
namespace {

// Not inlined, and the pair loop a do-while (pairs >= 1): so GCC 12 keeps the 24
// accumulators in registers.
template <int kTileRows>
__attribute__((noinline)) MHA_BF16_TARGET void TileBf16(const uint16_t* const* a,
                                                        const uint32_t* b, int64_t pairs,
                                                        float* c, int64_t c_stride,
                                                        bool accumulate) {
  __m512 acc[kTileRows][kVecs];
  const uint16_t* rows[kTileRows];
  for (int r = 0; r < kTileRows; ++r) {
    rows[r] = a[r];
    for (int v = 0; v < kVecs; ++v) {
      acc[r][v] = accumulate ? _mm512_load_ps(c + r * c_stride + v * 16) : _mm512_setzero_ps();
    }
  }
  int64_t t = 0;
  do {
    __m512bh w[kVecs];
    for (int v = 0; v < kVecs; ++v) {
      w[v] = (__m512bh)_mm512_load_si512(b + t * kPanel + v * 16);
    }
    for (int r = 0; r < kTileRows; ++r) {
      uint32_t pair;
      std::memcpy(&pair, rows[r] + 2 * t, sizeof pair);
      const __m512bh x = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair));
      for (int v = 0; v < kVecs; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], x, w[v]);
    }
  } while (++t < pairs);
  for (int r = 0; r < kTileRows; ++r) {
    for (int v = 0; v < kVecs; ++v) _mm512_store_ps(c + r * c_stride + v * 16, acc[r][v]);
  }
}

template <int kTileRows>
void TileRowsBf16(int64_t rows, const uint16_t* const* a, const uint32_t* b, int64_t pairs,
                  float* c, int64_t c_stride, bool accumulate) {
  if constexpr (kTileRows > 1) {
    if (rows < kTileRows) {
      return TileRowsBf16<kTileRows - 1>(rows, a, b, pairs, c, c_stride, accumulate);
    }
  }
  TileBf16<kTileRows>(a, b, pairs, c, c_stride, accumulate);
}

void Tile(int64_t rows, const void* const* a, const void* b, int64_t kc, float* c,
          int64_t c_stride, bool accumulate) {
  TileRowsBf16<kRows>(rows, reinterpret_cast<const uint16_t* const*>(a),
                      static_cast<const uint32_t*>(b), (kc + 1) / 2, c, c_stride, accumulate);
}

MHA_BF16_TARGET __m512 LoadF32(const void* x, mha_dtype dtype, int64_t i, __mmask16 lanes) {
  if (dtype == MHA_F16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(lanes, static_cast<const uint16_t*>(x) + i));
  }
  return _mm512_maskz_loadu_ps(lanes, static_cast<const float*>(x) + i);
}

// f32 and f16 x round to bf16 (nearest even, vcvtneps2bf16); bf16 x is copied.
MHA_BF16_TARGET void ConvertRow(const void* x, mha_dtype dtype, int64_t count,
                                int64_t padded, void* dst_void) {
  uint16_t* dst = static_cast<uint16_t*>(dst_void);
  if (dtype == MHA_BF16) {
    std::memcpy(dst, x, static_cast<size_t>(count) * 2);
  } else {
    for (int64_t i = 0; i < count; i += 16) {
      const __mmask16 lanes =
          count - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (count - i)) - 1);
      const __m256i h = (__m256i)_mm512_cvtneps_pbh(LoadF32(x, dtype, i, lanes));
      _mm256_mask_storeu_epi16(dst + i, lanes, h);
    }
  }
  for (int64_t i = count; i < padded; ++i) dst[i] = 0;
}

}  // namespace

GemmKernels GemmKernelsBf16Avx512() { return {Tile, ConvertRow, MHA_BF16}; }

#else  // no x86 GCC/Clang: never chosen (CpuHasAvx512Bf16() is false)

GemmKernels GemmKernelsBf16Avx512() { return {nullptr, nullptr, MHA_BF16}; }

#endif

GemmTileShape GemmTileShapeBf16Avx512() { return {kRows, kPanel}; }

}  // namespace mha
