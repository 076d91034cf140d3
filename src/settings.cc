#include "settings.h"

#include <cerrno>
#include <cstdlib>
#include <strings.h>

#include "error.h"

namespace mha {
namespace {

struct IsaEntry {
  const char* name;
  mha_isa isa;
};
constexpr IsaEntry kIsas[] = {
    {"scalar", MHA_ISA_SCALAR}, {"sse4", MHA_ISA_SSE4},
    {"avx2", MHA_ISA_AVX2},     {"avx512", MHA_ISA_AVX512},
    {"avx512_bf16", MHA_ISA_AVX512_BF16}, {"native", MHA_ISA_NATIVE},
};

const char* Env(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

// Parses a whole decimal integer in [lo, hi].
bool ParseInt(const char* text, long lo, long hi, int* out) {
  errno = 0;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < lo || value > hi) return false;
  *out = static_cast<int>(value);
  return true;
}

std::string Trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace

std::vector<std::string> SplitList(const std::string& text, char separator) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t stop = text.find(separator, start);
    if (stop == std::string::npos) stop = text.size();
    std::string item = Trim(text.substr(start, stop - start));
    if (!item.empty()) items.push_back(item);
    start = stop + 1;
  }
  return items;
}

bool ParseIsa(const std::string& text, mha_isa* isa) {
  for (const IsaEntry& e : kIsas) {
    if (strcasecmp(text.c_str(), e.name) == 0) {
      *isa = e.isa;
      return true;
    }
  }
  return false;
}

const char* IsaName(mha_isa isa) {
  for (const IsaEntry& e : kIsas) {
    if (e.isa == isa) return e.name;
  }
  return "?";
}

mha_status ReadSettings(Settings* settings) {
  Settings s;
  if (const char* v = Env("MHA_BACKEND")) s.backend = v;
  if (const char* v = Env("MHA_NUM_THREADS")) {
    if (!ParseInt(v, 1, 4096, &s.num_threads)) {
      return Fail(MHA_ERR_INVALID_ARGUMENT,
                  Format("MHA_NUM_THREADS=\"%s\": expected an integer from 1 to 4096", v));
    }
  }
  if (const char* v = Env("MHA_MAX_ISA")) {
    if (!ParseIsa(v, &s.max_isa)) {
      return Fail(MHA_ERR_INVALID_ARGUMENT,
                  Format("MHA_MAX_ISA=\"%s\": expected one of scalar, sse4, avx2, avx512, "
                         "avx512_bf16, native", v));
    }
  }
  if (const char* v = Env("MHA_VERBOSE")) {
    if (!ParseInt(v, 0, 2, &s.verbose)) {
      return Fail(MHA_ERR_INVALID_ARGUMENT,
                  Format("MHA_VERBOSE=\"%s\": expected 0, 1 or 2", v));
    }
  }
  if (const char* v = Env("MHA_PLUGIN_PATH")) s.plugin_path = SplitList(v, ':');
  *settings = std::move(s);
  return MHA_OK;
}

}  // namespace mha
