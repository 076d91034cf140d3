// Rotary position embedding, the one definition every backend's linear epilogue uses.
// Pair i of a head (i < rope_dims / 2) rotates by the angle position * inv_freq[i]:
// NeoX/LLaMA pairs dimension i with i + rope_dims / 2, GPT-J pairs 2i with 2i + 1.
#ifndef MHA_KIT_ROPE_H_
#define MHA_KIT_ROPE_H_

#include <cmath>
#include <cstdint>

#include "mha/mha.h"

namespace mha {

// cos and sin of position * inv_freq[i] for i < half, the angle taken in double.
template <typename T>
inline void RopeAngles(const float* inv_freq, int64_t half, int64_t position, T* cos_out,
                       T* sin_out) {
  for (int64_t i = 0; i < half; ++i) {
    const double angle = static_cast<double>(position) * static_cast<double>(inv_freq[i]);
    cos_out[i] = static_cast<T>(std::cos(angle));
    sin_out[i] = static_cast<T>(std::sin(angle));
  }
}

// Rotates the first rope_dims values of one head in place.
template <typename T>
inline void RotateHead(int style, int64_t rope_dims, const T* cos, const T* sin, T* head) {
  const int64_t half = rope_dims / 2;
  for (int64_t i = 0; i < half; ++i) {
    T* a = style == MHA_ROPE_GPTJ ? head + 2 * i : head + i;
    T* b = style == MHA_ROPE_GPTJ ? head + 2 * i + 1 : head + i + half;
    const T x = *a, y = *b;
    *a = x * cos[i] - y * sin[i];
    *b = y * cos[i] + x * sin[i];
  }
}

}  // namespace mha

#endif  // MHA_KIT_ROPE_H_
