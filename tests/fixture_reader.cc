#include "fixture_reader.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <utility>

namespace mha_test {
namespace {

constexpr char kMagic[8] = {'M', 'H', 'A', 'F', 'I', 'X', '1', '\0'};
constexpr uint32_t kF32 = 0, kI32 = 1;
constexpr uint32_t kMaxNdim = 8;

// Reads the file's fields in order; the fixtures are little-endian, as is every host
// the tests run on, so values are copied as they are.
class Cursor {
 public:
  Cursor(const std::string& path, std::vector<char> bytes)
      : path_(path), bytes_(std::move(bytes)) {}

  template <typename T>
  T Read() {
    T value;
    std::memcpy(&value, Take(sizeof(T)), sizeof(T));
    return value;
  }
  const char* Take(uint64_t n) {
    if (n > bytes_.size() - pos_) Fail("truncated");
    const char* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  bool AtEnd() const { return pos_ == bytes_.size(); }
  [[noreturn]] void Fail(const std::string& why) const {
    throw std::runtime_error("fixture " + path_ + ": " + why + " (at byte " +
                             std::to_string(pos_) + ")");
  }

 private:
  std::string path_;
  std::vector<char> bytes_;
  uint64_t pos_ = 0;
};

template <typename T>
std::vector<T> ReadData(Cursor& in, uint64_t count) {
  if (count > UINT64_MAX / sizeof(T)) in.Fail("array too large");
  std::vector<T> data(count);
  if (count > 0) std::memcpy(data.data(), in.Take(count * sizeof(T)), count * sizeof(T));
  return data;
}

}  // namespace

std::string FixturePath(const std::string& name) {
  return std::string(MHA_TEST_DATA_DIR) + "/layer/" + name + ".bin";
}

Fixture Fixture::Load(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("fixture " + path + ": cannot open");
  Cursor in(path, std::vector<char>(std::istreambuf_iterator<char>(file), {}));

  if (std::memcmp(in.Take(sizeof(kMagic)), kMagic, sizeof(kMagic)) != 0) in.Fail("bad magic");
  Fixture fixture;
  fixture.path_ = path;
  const uint32_t count = in.Read<uint32_t>();
  for (uint32_t r = 0; r < count; ++r) {
    const uint32_t name_len = in.Read<uint32_t>();
    std::string name(in.Take(name_len), name_len);
    Array a;
    const uint32_t dtype = in.Read<uint32_t>();
    if (dtype != kF32 && dtype != kI32) in.Fail("array " + name + ": unknown dtype");
    a.is_f32 = dtype == kF32;
    const uint32_t ndim = in.Read<uint32_t>();
    if (ndim > kMaxNdim) in.Fail("array " + name + ": too many dims");
    uint64_t elements = 1;
    for (uint32_t d = 0; d < ndim; ++d) {
      const int64_t dim = in.Read<int64_t>();
      if (dim < 0 || (dim > 0 && elements > UINT64_MAX / static_cast<uint64_t>(dim)))
        in.Fail("array " + name + ": bad dim");
      a.dims.push_back(dim);
      elements *= static_cast<uint64_t>(dim);
    }
    if (a.is_f32) {
      a.f32 = ReadData<float>(in, elements);
    } else {
      a.i32 = ReadData<int32_t>(in, elements);
    }
    if (!fixture.arrays_.emplace(name, std::move(a)).second) in.Fail("duplicate array " + name);
  }
  if (!in.AtEnd()) in.Fail("trailing bytes");
  return fixture;
}

bool Fixture::Has(const std::string& name) const { return arrays_.count(name) != 0; }

const Fixture::Array& Fixture::Get(const std::string& name) const {
  auto it = arrays_.find(name);
  if (it == arrays_.end()) throw std::runtime_error("fixture " + path_ + ": no array " + name);
  return it->second;
}

const std::vector<float>& Fixture::F32(const std::string& name) const {
  const Array& a = Get(name);
  if (!a.is_f32) throw std::runtime_error("fixture " + path_ + ": " + name + " is not float32");
  return a.f32;
}

const std::vector<int32_t>& Fixture::I32(const std::string& name) const {
  const Array& a = Get(name);
  if (a.is_f32) throw std::runtime_error("fixture " + path_ + ": " + name + " is not int32");
  return a.i32;
}

const std::vector<int64_t>& Fixture::Dims(const std::string& name) const {
  return Get(name).dims;
}

float Fixture::Scalar(const std::string& name) const {
  const Array& a = Get(name);
  if (!a.dims.empty()) {
    throw std::runtime_error("fixture " + path_ + ": " + name + " is not a scalar");
  }
  return a.is_f32 ? a.f32[0] : static_cast<float>(a.i32[0]);
}

}  // namespace mha_test
