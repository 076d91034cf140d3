#include "error.h"

#include <cstdarg>
#include <cstdio>
#include <utility>

namespace mha {
namespace {
thread_local std::string last_error;
}  // namespace

mha_status Fail(mha_status status, std::string message) {
  last_error = std::move(message);
  return status;
}

mha_status Invalid(std::string message) {
  return Fail(MHA_ERR_INVALID_ARGUMENT, std::move(message));
}

std::string Format(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int length = std::vsnprintf(nullptr, 0, format, args);
  va_end(args);
  std::string text(length > 0 ? static_cast<size_t>(length) : 0, '\0');
  std::vsnprintf(text.data(), text.size() + 1, format, copy);
  va_end(copy);
  return text;
}

const char* LastError() { return last_error.c_str(); }

}  // namespace mha
