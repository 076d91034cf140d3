// mha_bench --verify: checks that a benchmark computes the attention its shape names,
// by comparing the output of its first call with the reference backend's on the same
// inputs. It guards the bench itself (say, a causal row run without its causal flag);
// tests/ remain where the backends' correctness is tested.
#ifndef MHA_BENCH_VERIFY_H_
#define MHA_BENCH_VERIFY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "mha/mha.h"
#include "shapes.h"
#include "workload.h"

namespace mha_bench {

// Whether the f64 reference is cheap enough to run on `shape` (a second or two).
bool VerifyAffordable(const Shape& shape);

// The reference's output for the first call of a workload (layer 0).
class ReferenceOutput {
 public:
  // The output for (shape, precision), computed on first use; like Workload::Get, only
  // the most recent one is kept. Call it before timing: it runs the reference.
  static const ReferenceOutput& Get(const Shape& shape, const Precision& precision,
                                    const Workload& workload);

  ReferenceOutput(const Shape& shape, const Precision& precision, const Workload& workload);

  // "" when `out` (a backend's output for the same call) is within tolerance of the
  // reference everywhere, else "verify: ..." saying by how much it is off.
  std::string Compare(const mha_tensor& out) const;

 private:
  std::vector<uint8_t> storage_;
  mha_tensor tensor_;
  double atol_, rtol_;
  std::string error_;  // why the reference could not run, if it could not
};

}  // namespace mha_bench

#endif  // MHA_BENCH_VERIFY_H_
