#include "findings.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace mha_fuzz {

namespace {

std::string& CallDescription() {
  static std::string text;
  return text;
}

}  // namespace

void SetCallDescription(std::string text) { CallDescription() = std::move(text); }

std::string DescribeView(const char* name, const mha_tensor& t) {
  int dtype;
  std::memcpy(&dtype, &t.dtype, sizeof dtype);
  char text[320];
  std::snprintf(text, sizeof text,
                "%s {%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 "} strides {%" PRId64
                ", %" PRId64 ", %" PRId64 ", %" PRId64 "} dtype %d%s\n",
                name, t.dims[0], t.dims[1], t.dims[2], t.dims[3], t.strides[0], t.strides[1],
                t.strides[2], t.strides[3], dtype, t.data ? "" : " (NULL data)");
  return text;
}

void Finding(const std::string& what) {
  std::fprintf(stderr, "mha_fuzz finding: %s\n%s", what.c_str(), CallDescription().c_str());
  std::abort();
}

Outcome Observe(mha_status status, const char* call) {
  Outcome o;
  o.status = status;
  if (status != MHA_OK) {
    o.message = mha_last_error();
    if (o.message.empty()) {
      Finding(std::string(call) + " returned " + mha_status_name(status) +
              " with an empty mha_last_error()");
    }
  }
  return o;
}

bool BothRan(const Outcome& want, const Outcome& got, const char* backend, const char* call) {
  const auto differ = [&](const char* why) {
    Finding(std::string(call) + ": " + why + ": reference gave " + mha_status_name(want.status) +
            " (" + want.message + "), " + backend + " gave " + mha_status_name(got.status) + " (" +
            got.message + ")");
  };
  if (want.status == MHA_ERR_INVALID_ARGUMENT && got.status != want.status) {
    differ("an invalid argument must be rejected by every backend");
  }
  if (want.status == MHA_OK && got.status != MHA_OK && got.status != MHA_ERR_UNSUPPORTED &&
      got.status != MHA_ERR_OUT_OF_MEMORY) {
    differ("a valid call may only be declined");
  }
  return want.status == MHA_OK && got.status == MHA_OK;
}

bool Close(double got, double want, Tolerance tol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= tol.atol + tol.rtol * std::fabs(want);
}

}  // namespace mha_fuzz
