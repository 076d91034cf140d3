// The option structs that callers allocate begin with struct_size, the sizeof of the
// caller's version (mha.h). These helpers write defaults into a caller's struct without
// passing its end, and read one back as this library's full version.
#ifndef MHA_SRC_VERSIONED_H_
#define MHA_SRC_VERSIONED_H_

#include <cstddef>
#include <cstring>
#include <initializer_list>

#include "error.h"

namespace mha {

// One past the last byte of field `f` of struct T.
#define MHA_FIELD_END(T, f) (offsetof(T, f) + sizeof(static_cast<T*>(nullptr)->f))

// Larger sizes are taken for a struct its caller never initialised.
constexpr size_t kMaxStructSize = 4096;

// Copies the first `size` bytes of `defaults` into `out` and sets out->struct_size.
template <typename T>
void InitVersioned(const T& defaults, T* out, size_t size) {
  if (!out || size < sizeof(size_t)) return;
  std::memcpy(out, &defaults, size < sizeof(T) ? size : sizeof(T));
  std::memcpy(out, &size, sizeof(size_t));
}

// *full = defaults, overlaid by the fields of `caller` that lie wholly within its
// struct_size. field_ends lists MHA_FIELD_END of every field in order. A caller's struct
// larger than T must be zero past T: those are fields this library does not know.
template <typename T>
mha_status ReadVersioned(const char* name, const T* caller, const T& defaults,
                         std::initializer_list<size_t> field_ends, T* full) {
  size_t size;
  std::memcpy(&size, caller, sizeof size);
  if (size < sizeof(size_t) || size > kMaxStructSize) {
    return Invalid(Format("%s->struct_size=%zu: not a size the library sets; fill the struct "
                          "with its init function first",
                          name, size));
  }
  const unsigned char* bytes = reinterpret_cast<const unsigned char*>(caller);
  for (size_t i = sizeof(T); i < size; ++i) {
    if (bytes[i] != 0) {
      return Fail(MHA_ERR_UNSUPPORTED,
                  Format("%s->struct_size=%zu: the caller's header is newer than this library "
                         "(which knows %zu bytes) and sets a field it does not know",
                         name, size, sizeof(T)));
    }
  }
  size_t known = sizeof(size_t);
  for (size_t end : field_ends) {
    if (end <= size) known = end;
  }
  *full = defaults;
  std::memcpy(full, caller, known);
  std::memcpy(full, &size, sizeof(size_t));
  return MHA_OK;
}

}  // namespace mha

#endif  // MHA_SRC_VERSIONED_H_
