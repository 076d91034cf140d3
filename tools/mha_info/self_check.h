// A small attention run on a backend and checked against the reference backend, so that
// mha-info shows in a second whether a backend works on this machine, how far from exact
// it is, and what one call costs.
#ifndef MHA_TOOLS_SELF_CHECK_H_
#define MHA_TOOLS_SELF_CHECK_H_

#include <string>

#include "json_value.h"

namespace mha_tools {

// One entry per check case: its shape, the max abs error against the reference, the
// tolerance it is held to (|err| <= tolerance + rtol * |reference|, the conformance
// tests' rule for its dtypes), "ok", and the median microseconds of a call. An error from
// the library is reported in the entry, never thrown.
JsonValue SelfCheck(const std::string& backend);

}  // namespace mha_tools

#endif  // MHA_TOOLS_SELF_CHECK_H_
