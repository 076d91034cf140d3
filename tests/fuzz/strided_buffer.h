// Strided views over heap blocks of exactly the bytes they address, so that
// AddressSanitizer reports any access outside a view's span, with strides decoded
// from the fuzz input: contiguous, permuted, padded, zero (overlapping), huge,
// negative and overflowing.
#ifndef MHA_TESTS_FUZZ_STRIDED_BUFFER_H_
#define MHA_TESTS_FUZZ_STRIDED_BUFFER_H_

#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "fuzz_input.h"
#include "mha/mha.h"

namespace mha_fuzz {

// The most storage elements one buffer may span; larger inputs are skipped.
constexpr int64_t kMaxSpan = 1 << 14;

constexpr uint8_t kPoison = 0xff;  // all-ones bytes are NaN in f32, bf16 and f16

struct StridedBuffer {
  std::vector<uint8_t> bytes;
  mha_tensor view{};
  int64_t elements = 0;      // storage elements allocated
  bool addressable = false;  // the library may access the view: no negative or
                             // overflowing stride, so bytes cover its span
  bool overlapping = false;  // two logical elements share a storage element
};

// Stores any int in an enum field, also one that is not an enumerator (as a C caller
// may): assigning such a value as the enum type would be undefined in C++.
template <typename Enum>
void SetRaw(Enum* field, int value) {
  static_assert(sizeof(Enum) == sizeof(int), "a C enum is an int");
  std::memcpy(field, &value, sizeof value);
}

// Element size of a dtype, 4 for a value that is not one (those views are rejected).
int64_t ElementSize(const mha_dtype& dtype);

// Decodes strides for a view of `dims` and `dtype`; unit_last: the last axis is the
// head_dim axis (Q, K, V, out). False when the span exceeds kMaxSpan and the input
// should be skipped. The storage starts poisoned.
bool MakeBuffer(FuzzInput& in, const int64_t dims[4], int dtype, bool unit_last,
                StridedBuffer* out);

// Calls f(a0, a1, a2, a3, storage offset) for every logical element.
void ForEachElement(const mha_tensor& t, const std::function<void(const int64_t*, int64_t)>& f);

// True when every byte of b outside its logical elements is still poison.
bool PaddingUntouched(const StridedBuffer& b);

float Load(const StridedBuffer& b, int64_t offset);
void Store(StridedBuffer& b, int64_t offset, float value);

}  // namespace mha_fuzz

#endif  // MHA_TESTS_FUZZ_STRIDED_BUFFER_H_
