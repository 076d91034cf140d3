// Small helpers shared by the core tests: contiguous BSHD f32 tensors, a context that
// is destroyed with its scope, and an environment variable set for one scope (for the
// tests of the variables themselves).
#ifndef MHA_TESTS_TEST_UTIL_H_
#define MHA_TESTS_TEST_UTIL_H_

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "mha/mha.h"

namespace mha_test {

// A contiguous [d0, d1, d2, d3] view of `data`.
inline mha_tensor ContiguousView(void* data, mha_dtype dtype, int64_t d0, int64_t d1,
                                 int64_t d2, int64_t d3) {
  mha_tensor t{};
  t.data = data;
  t.dtype = dtype;
  const int64_t dims[4] = {d0, d1, d2, d3};
  const int64_t strides[4] = {d1 * d2 * d3, d2 * d3, d3, 1};
  for (int a = 0; a < 4; ++a) {
    t.dims[a] = dims[a];
    t.strides[a] = strides[a];
  }
  return t;
}

// A contiguous f32 tensor [d0, d1, d2, d3] and its mha_tensor view.
struct Dense {
  std::vector<float> values;
  mha_tensor view{};

  Dense(int64_t d0, int64_t d1, int64_t d2, int64_t d3, float fill = 0.0f)
      : values(static_cast<size_t>(d0 * d1 * d2 * d3), fill),
        view(ContiguousView(values.data(), MHA_F32, d0, d1, d2, d3)) {}
  Dense(const Dense&) = delete;

  float& at(int64_t a0, int64_t a1, int64_t a2, int64_t a3) {
    return values[static_cast<size_t>(a0 * view.strides[0] + a1 * view.strides[1] +
                                      a2 * view.strides[2] + a3)];
  }
  void Randomize(std::mt19937_64& rng, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> dist(lo, hi);
    for (float& x : values) x = dist(rng);
  }
  mha_tensor* get() { return &view; }
};

class ScopedContext {
 public:
  explicit ScopedContext(const char* backend) { status_ = mha_context_create(backend, &ctx_); }
  explicit ScopedContext(const mha_context_options& options) {
    status_ = mha_context_create_with(&options, &ctx_);
  }
  ~ScopedContext() { mha_context_destroy(ctx_); }
  ScopedContext(const ScopedContext&) = delete;
  mha_status status() const { return status_; }
  mha_context* get() const { return ctx_; }

 private:
  mha_context* ctx_ = nullptr;
  mha_status status_;
};

// Options for a context of `backend`, every other setting from the environment.
inline mha_context_options BackendOptions(const char* backend) {
  mha_context_options options;
  mha_context_options_init(&options);
  options.backend = backend;
  return options;
}

// The same, capped at `max_isa`.
inline mha_context_options CappedOptions(const char* backend, mha_isa max_isa) {
  mha_context_options options = BackendOptions(backend);
  options.max_isa = max_isa;
  return options;
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { had_ ? setenv(name_, old_.c_str(), 1) : unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

}  // namespace mha_test

#endif  // MHA_TESTS_TEST_UTIL_H_
