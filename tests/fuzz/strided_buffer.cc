#include "strided_buffer.h"

#include <algorithm>
#include <limits>

#include "mha/kit/dtype.h"

namespace mha_fuzz {
namespace {

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

// Row-major strides over `order` (outermost axis first), with `pad` extra elements
// after each axis.
void OrderedStrides(const int64_t dims[4], const int order[4], const int64_t pad[4],
                    int64_t strides[4]) {
  int64_t step = 1;
  for (int n = 3; n >= 0; --n) {
    strides[order[n]] = step;
    step = step * dims[order[n]] + pad[n];
  }
}

void DecodeStrides(FuzzInput& in, const int64_t dims[4], bool unit_last, int64_t strides[4]) {
  static const int kRowMajor[4] = {0, 1, 2, 3}, kSwapped[4] = {0, 2, 1, 3};
  static const int64_t kNoPad[4] = {0, 0, 0, 0};
  const int kind = in.Byte() % 10;
  if (kind == 1) {
    OrderedStrides(dims, kSwapped, kNoPad, strides);
    return;
  }
  if (kind == 2) {
    const int64_t pad[4] = {in.Int(0, 3), in.Int(0, 3), in.Int(1, 3), 0};
    OrderedStrides(dims, kRowMajor, pad, strides);
    return;
  }
  OrderedStrides(dims, kRowMajor, kNoPad, strides);
  const int axis = static_cast<int>(in.Int(0, unit_last ? 2 : 3));
  switch (kind) {
    case 3:  // broadcast-like: every index of one axis reads the same elements
      strides[axis] = 0;
      break;
    case 4:  // heads (or rows) that overlap by half
      strides[2] = std::max<int64_t>(1, dims[3] / 2);
      strides[1] = strides[2] * dims[2];
      strides[0] = strides[1] * dims[1];
      break;
    case 5: {  // huge strides on axes of size 1: valid, never multiplied by a nonzero index
      static const int64_t kHuge[3] = {int64_t{1} << 40, kMaxInt64, kMaxInt64 / 3};
      for (int a = 0; a < 3; ++a) {
        if (dims[a] == 1) strides[a] = in.Pick(kHuge);
      }
      break;
    }
    case 6: {  // negative
      static const int64_t kNegative[3] = {-1, -(int64_t{1} << 40),
                                           std::numeric_limits<int64_t>::min()};
      strides[static_cast<int>(in.Int(0, 3))] = in.Pick(kNegative);
      break;
    }
    case 7: {  // an offset that overflows 64 bits on an axis of size >= 2
      static const int64_t kOverflow[3] = {kMaxInt64, kMaxInt64 / 2 + 1, int64_t{1} << 62};
      strides[axis] = in.Pick(kOverflow);
      break;
    }
    case 8:  // a head_dim stride other than 1
      strides[3] = in.Int(0, 2);
      break;
    default:
      break;
  }
}

// The largest element offset the library would accept for t, or -1 when it rejects
// the strides (negative, or an offset that overflows a 64-bit byte offset).
int64_t LastOffset(const mha_tensor& t) {
  __int128 last = 0;
  for (int a = 0; a < 4; ++a) {
    if (t.strides[a] < 0) return -1;
    last += static_cast<__int128>(t.dims[a] - 1) * t.strides[a];
  }
  if (last > kMaxInt64 / ElementSize(t.dtype) - 1) return -1;
  return static_cast<int64_t>(last);
}

}  // namespace

int64_t ElementSize(const mha_dtype& dtype) {
  return mha::IsDtype(dtype) ? mha::DtypeSize(dtype) : 4;
}

bool MakeBuffer(FuzzInput& in, const int64_t dims[4], int dtype, bool unit_last,
                StridedBuffer* out) {
  StridedBuffer b;
  SetRaw(&b.view.dtype, dtype);
  for (int a = 0; a < 4; ++a) b.view.dims[a] = dims[a];
  DecodeStrides(in, dims, unit_last, b.view.strides);
  const bool empty = std::any_of(dims, dims + 4, [](int64_t d) { return d <= 0; });
  const int64_t last = empty ? 0 : LastOffset(b.view);
  b.addressable = last >= 0;
  if (last >= kMaxSpan) return false;
  b.elements = empty ? 0 : last + 1;
  // One element at least, so that a rejected view still points at real memory.
  b.bytes.assign(static_cast<size_t>(std::max<int64_t>(b.elements, 1) * ElementSize(b.view.dtype)),
                 kPoison);
  b.view.data = empty && in.Chance(50) ? nullptr : b.bytes.data();
  if (b.addressable && !empty) {
    std::vector<uint8_t> hits(static_cast<size_t>(b.elements), 0);
    ForEachElement(b.view, [&](const int64_t*, int64_t offset) {
      if (hits[offset]++) b.overlapping = true;
    });
  }
  *out = std::move(b);  // a moved vector keeps its heap block, so view.data stays valid
  return true;
}

void ForEachElement(const mha_tensor& t, const std::function<void(const int64_t*, int64_t)>& f) {
  int64_t i[4];
  for (i[0] = 0; i[0] < t.dims[0]; ++i[0])
    for (i[1] = 0; i[1] < t.dims[1]; ++i[1])
      for (i[2] = 0; i[2] < t.dims[2]; ++i[2])
        for (i[3] = 0; i[3] < t.dims[3]; ++i[3]) {
          f(i,
            i[0] * t.strides[0] + i[1] * t.strides[1] + i[2] * t.strides[2] + i[3] * t.strides[3]);
        }
}

bool PaddingUntouched(const StridedBuffer& b) {
  if (!b.addressable || !mha::IsDtype(b.view.dtype)) return true;
  std::vector<bool> logical(static_cast<size_t>(b.elements), false);
  ForEachElement(b.view, [&](const int64_t*, int64_t offset) { logical[offset] = true; });
  const int64_t size = ElementSize(b.view.dtype);
  for (int64_t e = 0; e < b.elements; ++e) {
    if (logical[e]) continue;
    for (int64_t byte = 0; byte < size; ++byte) {
      if (b.bytes[e * size + byte] != kPoison) return false;
    }
  }
  return true;
}

float Load(const StridedBuffer& b, int64_t offset) {
  return mha::LoadAsF32(b.bytes.data(), b.view.dtype, offset);
}

void Store(StridedBuffer& b, int64_t offset, float value) {
  mha::StoreFromF32(b.bytes.data(), b.view.dtype, offset, value);
}

}  // namespace mha_fuzz
