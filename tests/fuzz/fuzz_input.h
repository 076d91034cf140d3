// A fuzz input read as a stream of small decisions. Past its end every read gives 0,
// so every prefix of an input is itself a valid (smaller, plainer) input.
#ifndef MHA_TESTS_FUZZ_FUZZ_INPUT_H_
#define MHA_TESTS_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mha_fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }

  uint32_t Word() {
    uint32_t w = 0;
    for (int i = 0; i < 4; ++i) w |= uint32_t{Byte()} << (8 * i);
    return w;
  }

  // An integer in [lo, hi]; ranges wider than 256 values take four bytes.
  int64_t Int(int64_t lo, int64_t hi) {
    const uint64_t range = static_cast<uint64_t>(hi - lo) + 1;
    const uint64_t raw = range <= 256 ? Byte() : Word();
    return lo + static_cast<int64_t>(raw % range);
  }

  // True with probability about percent / 100.
  bool Chance(int percent) { return Byte() % 100 < percent; }

  template <typename T, size_t N>
  T Pick(const T (&choices)[N]) {
    return choices[Byte() % N];
  }

  // An f32 bit pattern taken as it is: any NaN payload, subnormal or infinity.
  float RawFloat() {
    const uint32_t bits = Word();
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace mha_fuzz

#endif  // MHA_TESTS_FUZZ_FUZZ_INPUT_H_
