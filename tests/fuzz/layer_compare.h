// How a layer forward that ran on the reference and on a backend is judged: the same
// cache lengths, nothing written outside out's and probs' views, and out, probs and lse
// of every query row that reads no special value within the tolerances of
// docs/layer.md (padded rows exactly: zeros, probs 0, lse -inf).
#ifndef MHA_TESTS_FUZZ_LAYER_COMPARE_H_
#define MHA_TESTS_FUZZ_LAYER_COMPARE_H_

#include <string>
#include <vector>

#include "layer_desc.h"
#include "layer_forward_call.h"
#include "mha/mha.h"

namespace mha_fuzz {

// The reference's cache contents, by token: whether each cached token of each row
// holds a special value (its K and V may then legitimately differ from the reference).
using SpecialTokens = std::vector<std::vector<bool>>;

// cache: the reference's when the forward used one, else NULL.
void CompareLayerForward(const mha_layer_desc& d, const LayerShape& s, const LayerForward& f,
                         const SpecialTokens& cached, const mha_kv_cache* cache,
                         const LayerForwardResult& want, const LayerForwardResult& got,
                         const std::string& name);

}  // namespace mha_fuzz

#endif  // MHA_TESTS_FUZZ_LAYER_COMPARE_H_
