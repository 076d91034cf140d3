// The caller-allocated option structs: their defaults, and each read back from a
// caller's version of it (src/versioned.h) as this library's full struct. NULL reads as
// the defaults. Messages name the argument as the C API does.
#ifndef MHA_SRC_OPTION_STRUCTS_H_
#define MHA_SRC_OPTION_STRUCTS_H_

#include "mha/mha.h"

namespace mha {

mha_status ReadContextOptions(const mha_context_options* caller, mha_context_options* full);
mha_status ReadAttentionDesc(const mha_attention_desc* caller, mha_attention_desc* full);
mha_status ReadLayerDesc(const mha_layer_desc* caller, mha_layer_desc* full);
mha_status ReadLayerOptions(const mha_layer_options* caller, mha_layer_options* full);

}  // namespace mha

#endif  // MHA_SRC_OPTION_STRUCTS_H_
