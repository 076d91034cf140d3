// Reads the reference fixtures in tests/data (written by tools/make_layer_fixtures.py):
// named float32 and int32 arrays, row-major, with their dims.
#ifndef MHA_TESTS_FIXTURE_READER_H_
#define MHA_TESTS_FIXTURE_READER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mha_test {

// The path of tests/data/layer/<name>.bin, from the MHA_TEST_DATA_DIR compile definition
// (a string literal naming tests/data).
std::string FixturePath(const std::string& name);

class Fixture {
 public:
  // Throws std::runtime_error naming the path and the reason if the file cannot be read
  // or is not a well-formed fixture.
  static Fixture Load(const std::string& path);

  bool Has(const std::string& name) const;
  // Each throws std::runtime_error if the array is missing or has the other dtype.
  const std::vector<float>& F32(const std::string& name) const;
  const std::vector<int32_t>& I32(const std::string& name) const;
  const std::vector<int64_t>& Dims(const std::string& name) const;  // {} for a scalar
  // A 0-dim array of either dtype, as a float.
  float Scalar(const std::string& name) const;

 private:
  struct Array {
    std::vector<int64_t> dims;
    bool is_f32 = true;
    std::vector<float> f32;
    std::vector<int32_t> i32;
  };
  const Array& Get(const std::string& name) const;

  std::string path_;
  std::map<std::string, Array> arrays_;
};

}  // namespace mha_test

#endif  // MHA_TESTS_FIXTURE_READER_H_
