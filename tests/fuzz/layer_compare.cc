#include "layer_compare.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>

#include "findings.h"
#include "strided_buffer.h"

namespace mha_fuzz {
namespace {

bool AllF32(const mha_layer_desc& d, const LayerForward& f, const mha_kv_cache* cache) {
  mha_tensor k;
  const bool cache_f32 =
      !cache || (mha_kv_cache_views(cache, &k, nullptr) == MHA_OK && k.dtype == MHA_F32);
  return d.weight_dtype == MHA_F32 && d.activation_dtype == MHA_F32 && f.x.view.dtype == MHA_F32 &&
         f.out.view.dtype == MHA_F32 && (!f.has_x_kv || f.x_kv.view.dtype == MHA_F32) && cache_f32;
}

// Row s of batch b reads a special value: its own token, or a key it may attend.
bool ReadsSpecial(const LayerForward& f, const SpecialTokens& cached, int64_t b, int64_t s) {
  if (f.x_special[b * f.len + s]) return true;
  if (f.use_cache) {  // the cached tokens and this step's new ones
    const std::vector<bool>& row = cached[b];
    if (std::find(row.begin(), row.end(), true) != row.end()) return true;
  }
  const std::vector<bool>& keys = f.has_x_kv ? f.x_kv_special : f.x_special;
  for (int64_t j = 0; j < f.kv_len; ++j) {
    if (keys[b * f.kv_len + j]) return true;
  }
  return false;
}

[[noreturn]] void Mismatch(const std::string& name, const char* what, int64_t b, int64_t h,
                           int64_t s, int64_t n, double got, double want) {
  char text[256];
  std::snprintf(text, sizeof text,
                "%s: %s[b=%" PRId64 ", h=%" PRId64 ", s=%" PRId64 ", %" PRId64
                "] = %.9g but the reference gives %.9g",
                name.c_str(), what, b, h, s, n, got, want);
  Finding(text);
}

// Element [a0, a1, a2, a3] of a view.
double At(const StridedBuffer& t, int64_t a0, int64_t a1, int64_t a2, int64_t a3) {
  const int64_t* st = t.view.strides;
  return Load(t, a0 * st[0] + a1 * st[1] + a2 * st[2] + a3 * st[3]);
}

// The rows of the forward whose results are compared, and each one's state.
struct Rows {
  const LayerForward& f;
  std::vector<bool> compared;  // per [b, s]: padding, or a row that reads no special
  bool f32 = false;

  bool Padding(int64_t b, int64_t s) const { return s >= (f.q_lens.empty() ? f.len : f.q_lens[b]); }
  bool Compared(int64_t b, int64_t s) const { return compared[b * f.len + s]; }
};

void CompareOut(const Rows& rows, int64_t d_model, const LayerForwardResult& want,
                const LayerForwardResult& got, const std::string& name) {
  const LayerForward& f = rows.f;
  double largest = 1;
  for (int64_t b = 0; b < f.batch; ++b) {
    for (int64_t s = 0; s < f.len; ++s) {
      if (!rows.Compared(b, s)) continue;
      for (int64_t n = 0; n < d_model; ++n) {
        largest = std::max(largest, std::fabs(At(want.out, b, s, 0, n)));
      }
    }
  }
  // All f32: |err| <= 1e-4 (1 + |want|); any 16-bit weight, activation, input or cache:
  // |err| <= 2e-2 max(1, max|want|).
  const Tolerance tol = rows.f32 ? Tolerance{1e-4, 1e-4} : Tolerance{2e-2 * largest, 0};
  for (int64_t b = 0; b < f.batch; ++b) {
    for (int64_t s = 0; s < f.len; ++s) {
      if (!rows.Compared(b, s)) continue;
      for (int64_t n = 0; n < d_model; ++n) {
        const double g = At(got.out, b, s, 0, n), w = At(want.out, b, s, 0, n);
        if (!Close(g, w, rows.Padding(b, s) ? Tolerance{0, 0} : tol)) {
          Mismatch(name, "out", b, 0, s, n, g, w);
        }
      }
    }
  }
}

// probs [B, Hq or 1, L, Lk]: all f32 |err| <= 1e-4, else <= 2e-2 (weights lie in [0, 1]).
void CompareProbs(const Rows& rows, const LayerForwardResult& want, const LayerForwardResult& got,
                  const std::string& name) {
  const LayerForward& f = rows.f;
  const Tolerance tol = rows.f32 ? Tolerance{1e-4, 0} : Tolerance{2e-2, 0};
  const int64_t heads = f.probs.view.dims[1], keys = f.probs.view.dims[3];
  for (int64_t b = 0; b < f.batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t s = 0; s < f.len; ++s) {
        if (!rows.Compared(b, s)) continue;
        for (int64_t j = 0; j < keys; ++j) {
          const double g = At(got.probs, b, h, s, j), w = At(want.probs, b, h, s, j);
          if (!Close(g, w, rows.Padding(b, s) ? Tolerance{0, 0} : tol)) {
            Mismatch(name, "probs", b, h, s, j, g, w);
          }
        }
      }
    }
  }
}

// lse [B, Hq, L]: all f32 |err| <= 1e-4 (1 + |want|), else <= 2e-2 max(1, max|want|).
void CompareLse(const Rows& rows, int64_t heads, const LayerForwardResult& want,
                const LayerForwardResult& got, const std::string& name) {
  const LayerForward& f = rows.f;
  const auto at = [&](int64_t b, int64_t h, int64_t s) {
    return static_cast<size_t>((b * heads + h) * f.len + s);
  };
  double largest = 1;
  for (int64_t b = 0; b < f.batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t s = 0; s < f.len; ++s) {
        const double w = want.lse[at(b, h, s)];
        if (rows.Compared(b, s) && std::isfinite(w)) largest = std::max(largest, std::fabs(w));
      }
    }
  }
  const Tolerance tol = rows.f32 ? Tolerance{1e-4, 1e-4} : Tolerance{2e-2 * largest, 0};
  for (int64_t b = 0; b < f.batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t s = 0; s < f.len; ++s) {
        if (!rows.Compared(b, s)) continue;
        const double g = got.lse[at(b, h, s)], w = want.lse[at(b, h, s)];
        if (!Close(g, w, rows.Padding(b, s) ? Tolerance{0, 0} : tol)) {
          Mismatch(name, "lse", b, h, s, 0, g, w);
        }
      }
    }
  }
}

}  // namespace

void CompareLayerForward(const mha_layer_desc& d, const LayerShape& s, const LayerForward& f,
                         const SpecialTokens& cached, const mha_kv_cache* cache,
                         const LayerForwardResult& want, const LayerForwardResult& got,
                         const std::string& name) {
  if (got.lengths != want.lengths) Finding(name + ": cache lengths differ from the reference's");
  if (!PaddingUntouched(got.out)) Finding(name + ": wrote outside out's view");
  if (f.has_probs && !PaddingUntouched(got.probs)) Finding(name + ": wrote outside probs' view");
  Rows rows{f, std::vector<bool>(static_cast<size_t>(f.batch * f.len)), AllF32(d, f, cache)};
  for (int64_t b = 0; b < f.batch; ++b) {
    for (int64_t t = 0; t < f.len; ++t) {
      rows.compared[b * f.len + t] = rows.Padding(b, t) || !ReadsSpecial(f, cached, b, t);
    }
  }
  if (!f.out.overlapping) CompareOut(rows, s.d_model, want, got, name);
  if (f.has_probs && !f.probs.overlapping) CompareProbs(rows, want, got, name);
  if (f.has_lse) CompareLse(rows, s.heads, want, got, name);
}

}  // namespace mha_fuzz
