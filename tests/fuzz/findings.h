// How the fuzz target judges a call: a failure must carry a message, a success must
// match the reference within the tolerances of docs/semantics.md and docs/layer.md.
// A violation prints what differed and aborts, so that libFuzzer keeps the input.
#ifndef MHA_TESTS_FUZZ_FINDINGS_H_
#define MHA_TESTS_FUZZ_FINDINGS_H_

#include <string>

#include "mha/mha.h"

namespace mha_fuzz {

[[noreturn]] void Finding(const std::string& what);

// What the current input decoded to, printed with a finding.
void SetCallDescription(std::string text);

// "name {d0, d1, d2, d3} strides {s0, s1, s2, s3} dtype" of a view.
std::string DescribeView(const char* name, const mha_tensor& t);

// A call's status and, on failure, mha_last_error() (a finding when empty).
struct Outcome {
  mha_status status = MHA_OK;
  std::string message;
};
Outcome Observe(mha_status status, const char* call);

// The reference and a backend share the core's argument checks, so an argument the
// reference rejects must be rejected by the backend with the same status; a call the
// reference runs may still be declined (MHA_ERR_UNSUPPORTED) by the backend.
// True when both succeeded and their results are to be compared.
bool BothRan(const Outcome& want, const Outcome& got, const char* backend, const char* call);

// |got - want| <= atol + rtol |want|; a NaN or infinite want needs the same got.
struct Tolerance {
  double atol, rtol;
};
bool Close(double got, double want, Tolerance tol);

}  // namespace mha_fuzz

#endif  // MHA_TESTS_FUZZ_FINDINGS_H_
