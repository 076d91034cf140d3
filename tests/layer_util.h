// Helpers of the layer tests: weights in any dtype, row tensors, the backends to run,
// and an elementwise comparison that reports the worst element.
#ifndef MHA_TESTS_LAYER_UTIL_H_
#define MHA_TESTS_LAYER_UTIL_H_

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "mha/kit/dtype.h"
#include "mha/mha.hpp"

namespace mha_test {

// Values stored in one of the three dtypes (16-bit ones rounded to nearest even).
struct Typed {
  mha_dtype dtype = MHA_F32;
  std::vector<unsigned char> bytes;

  Typed() = default;
  Typed(const std::vector<float>& values, mha_dtype d) : dtype(d) {
    bytes.resize(values.size() * static_cast<size_t>(mha::DtypeSize(d)));
    for (size_t i = 0; i < values.size(); ++i) {
      mha::StoreFromF32(bytes.data(), d, static_cast<int64_t>(i), values[i]);
    }
  }
  const void* data() const { return bytes.empty() ? nullptr : bytes.data(); }
  void* data() { return bytes.empty() ? nullptr : bytes.data(); }
  float at(int64_t i) const { return mha::LoadAsF32(bytes.data(), dtype, i); }
  std::vector<float> Floats() const {
    std::vector<float> out(bytes.size() / static_cast<size_t>(mha::DtypeSize(dtype)));
    for (size_t i = 0; i < out.size(); ++i) out[i] = at(static_cast<int64_t>(i));
    return out;
  }
};

// The contiguous [B, L, 1, F] view the layer takes.
inline mha_tensor RowsView(void* data, mha_dtype dtype, int64_t batch, int64_t len,
                           int64_t features) {
  return mha::Rows(data, dtype, batch, len, features).view;
}

inline std::vector<float> RandomValues(size_t n, std::mt19937_64& rng, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// The backends every layer test runs: the built-ins and oneDNN when its module loads.
inline std::vector<std::string> LayerBackends() {
  std::vector<std::string> names = {"reference", "highway"};
  if (mha_backend_available("onednn")) names.push_back("onednn");
  return names;
}

// CHECKs |got - want| <= atol + rtol * |want| for every element (NaN fails), naming the
// worst one.
inline void CheckClose(const std::vector<float>& got, const std::vector<float>& want,
                       double atol, double rtol, const std::string& what) {
  REQUIRE(got.size() == want.size());
  size_t worst = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - want[i]);
    const double excess = std::isnan(err) ? 1e30 : err - (atol + rtol * std::fabs(want[i]));
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  INFO(what << ": worst element " << worst << " got " << got[worst] << " want " << want[worst]
            << " (atol " << atol << ", rtol " << rtol << ")");
  CHECK(worst_excess <= 0);
}

inline double MaxAbs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, std::fabs(double(x)));
  return m;
}

}  // namespace mha_test

#endif  // MHA_TESTS_LAYER_UTIL_H_
