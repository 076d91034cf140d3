// Arrays of vectors for the kernels' register blocks. SVE vectors are sizeless types,
// which C++ cannot put in arrays, so on scalable targets the array lives in stack
// memory as kN vectors of Lanes(d) and each element reads and writes through a
// reference; everywhere else VecArray is a plain array of vectors.
#if defined(MHA_BACKENDS_HIGHWAY_VEC_ARRAY_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef MHA_BACKENDS_HIGHWAY_VEC_ARRAY_INL_H_
#undef MHA_BACKENDS_HIGHWAY_VEC_ARRAY_INL_H_
#else
#define MHA_BACKENDS_HIGHWAY_VEC_ARRAY_INL_H_
#endif

#include <cstddef>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mha {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_HAVE_SCALABLE

// One element of a ScalableVecArray: converts to the vector, assigns from one.
template <class D>
class VecRef {
 public:
  using T = hn::TFromD<D>;
  explicit VecRef(T* lanes) : lanes_(lanes) {}
  operator hn::Vec<D>() const { return hn::Load(D(), lanes_); }
  VecRef& operator=(hn::Vec<D> v) {
    hn::Store(v, D(), lanes_);
    return *this;
  }
  VecRef& operator=(const VecRef& other) { return *this = hn::Vec<D>(other); }

 private:
  T* lanes_;
};

template <class D, size_t kN>
class ScalableVecArray {
 public:
  using T = hn::TFromD<D>;
  VecRef<D> operator[](size_t i) { return VecRef<D>(lanes_ + i * hn::Lanes(D())); }

 private:
  HWY_ALIGN T lanes_[kN * hn::MaxLanes(D())];
};

// acc[r][c] of kRows x kCols vectors.
template <class D, size_t kRows, size_t kCols>
class ScalableVecArray2 {
 public:
  using T = hn::TFromD<D>;
  class Row {
   public:
    explicit Row(T* lanes) : lanes_(lanes) {}
    VecRef<D> operator[](size_t c) { return VecRef<D>(lanes_ + c * hn::Lanes(D())); }

   private:
    T* lanes_;
  };
  Row operator[](size_t r) { return Row(lanes_ + r * kCols * hn::Lanes(D())); }

 private:
  HWY_ALIGN T lanes_[kRows * kCols * hn::MaxLanes(D())];
};

template <class D, size_t kN>
using VecArray = ScalableVecArray<D, kN>;
template <class D, size_t kRows, size_t kCols>
using VecArray2 = ScalableVecArray2<D, kRows, kCols>;

#else

template <class D, size_t kN>
using VecArray = hn::Vec<D>[kN];
template <class D, size_t kRows, size_t kCols>
using VecArray2 = hn::Vec<D>[kRows][kCols];

#endif

}  // namespace HWY_NAMESPACE
}  // namespace mha
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
