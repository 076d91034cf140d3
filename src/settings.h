// A context's settings: each from mha_context_options when given there, else from its
// environment variable, else the default. Read by one helper when a context is created.
#ifndef MHA_SRC_SETTINGS_H_
#define MHA_SRC_SETTINGS_H_

#include <string>
#include <vector>

#include "mha/backend.h"

namespace mha {

// The most threads a context, its options or MHA_NUM_THREADS may ask for.
constexpr int kMaxThreads = 4096;

struct Settings {
  std::string backend = "auto";           // MHA_BACKEND
  int num_threads = 0;                    // MHA_NUM_THREADS; 0: OpenMP's default
  mha_isa max_isa = MHA_ISA_NATIVE;       // MHA_MAX_ISA
  int verbose = 0;                        // MHA_VERBOSE
  std::vector<std::string> plugin_path;   // MHA_PLUGIN_PATH
  size_t scores_budget_bytes = size_t{64} << 20;  // MHA_ONEDNN_SCORES_BUDGET_MB
};

// Resolves every setting. options may be NULL (everything from the environment); a
// field it gives is validated and the variable is not read. A malformed value is an
// error naming the field or variable, the value and what is allowed.
mha_status ReadSettings(const mha_context_options* options, Settings* settings);

// MHA_PLUGIN_PATH alone, for the backend queries that have no context.
mha_status ReadPluginPath(std::vector<std::string>* plugin_path);

// Splits "a,b , c" into trimmed, non-empty items.
std::vector<std::string> SplitList(const std::string& text, char separator);

}  // namespace mha

#endif  // MHA_SRC_SETTINGS_H_
