#include "value_fill.h"

#include <algorithm>
#include <limits>

#include "mha/kit/dtype.h"

namespace mha_fuzz {

void FillTame(StridedBuffer& b, double magnitude, std::mt19937& rng) {
  if (!b.addressable || !mha::IsDtype(b.view.dtype)) return;
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t e = 0; e < b.elements; ++e) {
    Store(b, e, static_cast<float>(magnitude * dist(rng)));
  }
}

void AddSpecials(FuzzInput& in, StridedBuffer& b, int count) {
  if (!b.addressable || !mha::IsDtype(b.view.dtype) || b.elements == 0) return;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  for (int n = 0; n < count; ++n) {
    const int64_t at = in.Int(0, b.elements - 1);
    const float kinds[] = {
        std::numeric_limits<float>::quiet_NaN(), kInf,   -kInf, 1e30f,        -1e30f,
        std::numeric_limits<float>::max(),       1e-45f, -0.0f, in.RawFloat()};
    Store(b, at, in.Pick(kinds));
  }
}

double TameMagnitude(const StridedBuffer& b, double magnitude) {
  if (!b.addressable || !mha::IsDtype(b.view.dtype)) return magnitude;
  for (int64_t e = 0; e < b.elements; ++e) {
    const double x = Load(b, e);
    if (!IsSpecial(x)) magnitude = std::max(magnitude, std::fabs(x));
  }
  return magnitude;
}

std::vector<float> TameValues(size_t n, double magnitude, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(magnitude * dist(rng));
  return v;
}

std::vector<uint8_t> Typed(const std::vector<float>& values, const mha_dtype& dtype) {
  const mha_dtype d = mha::IsDtype(dtype) ? dtype : MHA_F32;
  std::vector<uint8_t> bytes(values.size() * static_cast<size_t>(mha::DtypeSize(d)));
  for (size_t i = 0; i < values.size(); ++i) {
    mha::StoreFromF32(bytes.data(), d, static_cast<int64_t>(i), values[i]);
  }
  return bytes;
}

}  // namespace mha_fuzz
