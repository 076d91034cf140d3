// The thread-local message behind mha_last_error() and the helpers that set it.
#ifndef MHA_SRC_ERROR_H_
#define MHA_SRC_ERROR_H_

#include <string>

#include "mha/mha.h"

namespace mha {

// Records `message` as this thread's last error and returns `status`.
mha_status Fail(mha_status status, std::string message);

// Fail(MHA_ERR_INVALID_ARGUMENT, message).
mha_status Invalid(std::string message);

// printf-style formatting into a std::string.
std::string Format(const char* format, ...) __attribute__((format(printf, 1, 2)));

const char* LastError();

}  // namespace mha

#endif  // MHA_SRC_ERROR_H_
