// The libFuzzer entry point over the C API: the first byte chooses what the rest of
// the input describes.
#include <cstddef>
#include <cstdint>

#include "attention_case.h"
#include "fuzz_input.h"
#include "layer_case.h"
#include "linear_case.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mha_fuzz::FuzzInput in(data, size);
  switch (in.Byte() % 3) {
    case 0:
      mha_fuzz::FuzzAttention(in);
      break;
    case 1:
      mha_fuzz::FuzzLayer(in);
      break;
    case 2:
      mha_fuzz::FuzzLinear(in);
      break;
  }
  return 0;
}
