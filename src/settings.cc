#include "settings.h"

#include <cerrno>
#include <cstdlib>

#include "error.h"
#include "mha/kit/isa.h"

namespace mha {
namespace {

const char* Env(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

// Parses a whole decimal integer in [lo, hi].
bool ParseInt(const char* text, long long lo, long long hi, long long* out) {
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < lo || value > hi) return false;
  *out = value;
  return true;
}

std::string Trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// The levels of this build's architecture.
std::string IsaNames() { return IsaLevelNames(/*this_arch_only=*/true); }

// A level of another architecture is refused rather than read as some cap here.
mha_status CheckIsaArch(const IsaLevel& level, const std::string& setting) {
  if (IsaOfThisArch(level)) return MHA_OK;
  return Invalid(Format("%s: %s is an %s level and this library runs on %s; expected one of %s",
                        setting.c_str(), level.name, IsaArchName(level.arch),
                        IsaArchName(kThisIsaArch), IsaNames().c_str()));
}

struct IntSetting {
  const char* field;     // of mha_context_options
  const char* variable;  // its environment variable
  long long lo, hi;      // the option's range
  long long env_lo;      // the variable's lower bound (an unset variable is the default)
  const char* allowed;   // the range in words
};

// The option's value when it is not MHA_FROM_ENVIRONMENT, else the variable's when set.
mha_status ResolveInt(const IntSetting& setting, long long option, long long* out) {
  if (option != MHA_FROM_ENVIRONMENT) {
    if (option < setting.lo || option > setting.hi) {
      return Invalid(
          Format("options->%s=%lld: expected %s", setting.field, option, setting.allowed));
    }
    *out = option;
    return MHA_OK;
  }
  const char* text = Env(setting.variable);
  if (!text) return MHA_OK;
  if (!ParseInt(text, setting.env_lo, setting.hi, out)) {
    return Invalid(Format("%s=\"%s\": expected %s", setting.variable, text, setting.allowed));
  }
  return MHA_OK;
}

constexpr IntSetting kThreads = {"num_threads", "MHA_NUM_THREADS", 0, kMaxThreads, 1,
                                 "an integer from 1 to 4096 (an option may be 0: OpenMP's "
                                 "default)"};
constexpr IntSetting kVerbose = {"verbose", "MHA_VERBOSE", 0, 2, 0, "0, 1 or 2"};
constexpr IntSetting kScoresBudget = {"onednn_scores_budget_mb", "MHA_ONEDNN_SCORES_BUDGET_MB",
                                      1, 1ll << 30, 1,
                                      "a whole number of MiB from 1 to 1073741824"};

mha_status ResolveIsa(int option, mha_isa* out) {
  if (option != MHA_FROM_ENVIRONMENT) {
    const IsaLevel* level = FindIsaLevel(option);
    if (!level) {
      return Invalid(Format("options->max_isa=%d: expected an mha_isa of %s", option,
                            IsaNames().c_str()));
    }
    if (mha_status st = CheckIsaArch(*level, Format("options->max_isa=%d", option))) return st;
    *out = static_cast<mha_isa>(option);
    return MHA_OK;
  }
  const char* text = Env("MHA_MAX_ISA");
  if (!text) return MHA_OK;
  if (const IsaLevel* level = FindIsaLevelNamed(text)) {
    if (mha_status st = CheckIsaArch(*level, Format("MHA_MAX_ISA=\"%s\"", text))) return st;
    *out = level->isa;
    return MHA_OK;
  }
  return Invalid(Format("MHA_MAX_ISA=\"%s\": expected one of %s", text, IsaNames().c_str()));
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

mha_status ReadPluginPath(std::vector<std::string>* plugin_path) {
  const char* text = Env("MHA_PLUGIN_PATH");
  *plugin_path = text ? SplitList(text, ':') : std::vector<std::string>{};
  return MHA_OK;
}

mha_status ReadSettings(const mha_context_options* options, Settings* settings) {
  mha_context_options from_env;
  mha_context_options_init(&from_env);
  const mha_context_options& o = options ? *options : from_env;
  Settings s;
  if (o.backend) {
    s.backend = o.backend;
  } else if (const char* v = Env("MHA_BACKEND")) {
    s.backend = v;
  }
  long long threads = s.num_threads, verbose = s.verbose;
  long long budget_mb = static_cast<long long>(s.scores_budget_bytes >> 20);
  if (mha_status st = ResolveInt(kThreads, o.num_threads, &threads)) return st;
  if (mha_status st = ResolveInt(kVerbose, o.verbose, &verbose)) return st;
  if (mha_status st = ResolveInt(kScoresBudget, o.onednn_scores_budget_mb, &budget_mb)) {
    return st;
  }
  if (mha_status st = ResolveIsa(o.max_isa, &s.max_isa)) return st;
  s.num_threads = static_cast<int>(threads);
  s.verbose = static_cast<int>(verbose);
  s.scores_budget_bytes = static_cast<size_t>(budget_mb) << 20;
  if (o.plugin_path) {
    s.plugin_path = SplitList(o.plugin_path, ':');
  } else if (mha_status st = ReadPluginPath(&s.plugin_path)) {
    return st;
  }
  *settings = std::move(s);
  return MHA_OK;
}

}  // namespace mha
