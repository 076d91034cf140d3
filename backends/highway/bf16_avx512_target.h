// The function target of the vdpbf16ps kernels (flash_bf16_avx512.cc,
// flash_decode_bf16_avx512.cc, gemm_bf16_avx512.cc): intrinsics that Highway 1.0.3
// cannot emit, compiled for AVX512_BF16 in functions of their own and called only
// where CpuHasAvx512Bf16(). MHA_BF16_TARGET is undefined off x86 GCC/Clang, where
// those files compile their portable stubs instead.
#ifndef MHA_BACKENDS_HIGHWAY_BF16_AVX512_TARGET_H_
#define MHA_BACKENDS_HIGHWAY_BF16_AVX512_TARGET_H_

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() through, which
// -Wuninitialized reports inside the header (GCC bug 105593).
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#define MHA_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16,avx512vl,f16c")))
#endif

#endif  // MHA_BACKENDS_HIGHWAY_BF16_AVX512_TARGET_H_
