// The environment variables of mha, read by one helper when a context is created.
#ifndef MHA_SRC_SETTINGS_H_
#define MHA_SRC_SETTINGS_H_

#include <string>
#include <vector>

#include "mha/backend.h"

namespace mha {

struct Settings {
  std::string backend = "auto";           // MHA_BACKEND
  int num_threads = 0;                    // MHA_NUM_THREADS; 0: OpenMP's default
  mha_isa max_isa = MHA_ISA_NATIVE;       // MHA_MAX_ISA
  int verbose = 0;                        // MHA_VERBOSE
  std::vector<std::string> plugin_path;   // MHA_PLUGIN_PATH
};

// Reads and validates every MHA_* variable. A malformed value is an error naming the
// variable, the value and what is allowed; nothing is silently ignored.
mha_status ReadSettings(Settings* settings);

// Parses an MHA_MAX_ISA value ("avx2", ...); false if unknown.
bool ParseIsa(const std::string& text, mha_isa* isa);
const char* IsaName(mha_isa isa);

// Splits "a,b , c" into trimmed, non-empty items.
std::vector<std::string> SplitList(const std::string& text, char separator);

}  // namespace mha

#endif  // MHA_SRC_SETTINGS_H_
