// Element values for fuzzed tensors and weights: tame random values of a chosen
// magnitude, a few raw specials (NaN, infinities, huge, subnormal) at chosen places, and
// the rule that tells them apart, which decides which results are compared.
#ifndef MHA_TESTS_FUZZ_VALUE_FILL_H_
#define MHA_TESTS_FUZZ_VALUE_FILL_H_

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "fuzz_input.h"
#include "strided_buffer.h"

namespace mha_fuzz {

// Tame values stay below this magnitude; anything else may legitimately make its
// results differ from the f64 reference (f32 overflow, NaN), so those are not compared.
constexpr double kTameLimit = 1e4;

inline bool IsSpecial(double x) { return !std::isfinite(x) || std::fabs(x) > kTameLimit; }

// Fills every storage element of b with uniform values in [-magnitude, magnitude].
void FillTame(StridedBuffer& b, double magnitude, std::mt19937& rng);

// Writes up to `count` specials decoded from the input into b's storage.
void AddSpecials(FuzzInput& in, StridedBuffer& b, int count);

// The largest magnitude among b's elements that are not special (a raw value that
// AddSpecials wrote may be tame and still exceed the fill's magnitude), at least
// `magnitude`: what the tolerances scale with.
double TameMagnitude(const StridedBuffer& b, double magnitude);

// n uniform values in [-magnitude, magnitude].
std::vector<float> TameValues(size_t n, double magnitude, std::mt19937& rng);

// The values stored contiguously in dtype (f32 for a value that is no dtype): a weight
// matrix of exactly the bytes the library should read.
std::vector<uint8_t> Typed(const std::vector<float>& values, const mha_dtype& dtype);

}  // namespace mha_fuzz

#endif  // MHA_TESTS_FUZZ_VALUE_FILL_H_
