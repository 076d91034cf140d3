// The calling thread's OpenMP team size for oneDNN's primitives, set for one scope.
#ifndef MHA_BACKENDS_ONEDNN_OMP_THREADS_H_
#define MHA_BACKENDS_ONEDNN_OMP_THREADS_H_

#include <omp.h>

namespace mha {
namespace onednn {

class OmpThreads {
 public:
  explicit OmpThreads(int n) : saved_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~OmpThreads() { omp_set_num_threads(saved_); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int saved_;
};

}  // namespace onednn
}  // namespace mha

#endif  // MHA_BACKENDS_ONEDNN_OMP_THREADS_H_
