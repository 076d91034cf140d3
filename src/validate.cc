#include "validate.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <limits>

#include "error.h"
#include "mha/kit/dtype.h"
#include "option_structs.h"

namespace mha {
namespace {

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

// The axes of a bias or probs tensor, [batch, heads, q_seq, kv_seq].
const char* const kScoreAxes[4] = {"batch", "num_heads", "q_len", "kv_len"};

}  // namespace

mha_status CheckTensor(const char* name, const mha_tensor* t, const int64_t min_dims[4],
                       bool unit_last_stride) {
  if (!t) return Invalid(Format("%s is NULL", name));
  if (!IsDtype(t->dtype)) {
    return Invalid(Format("%s.dtype=%d is not a dtype (MHA_F32, MHA_BF16 or MHA_F16)",
                          name, DtypeValue(t->dtype)));
  }
  for (int a = 0; a < 4; ++a) {
    if (t->dims[a] < min_dims[a]) {
      return Invalid(Format("%s.dims[%d]=%" PRId64 " must be >= %" PRId64, name, a,
                            t->dims[a], min_dims[a]));
    }
    if (t->strides[a] < 0) {
      return Invalid(Format("%s.strides[%d]=%" PRId64 " must be >= 0", name, a,
                            t->strides[a]));
    }
  }
  if (unit_last_stride && t->dims[3] > 1 && t->strides[3] != 1) {
    return Invalid(Format("%s.strides[3]=%" PRId64 ": the head_dim stride must be 1", name,
                          t->strides[3]));
  }
  for (int a = 0; a < 4; ++a) {
    if (t->dims[a] == 0) return MHA_OK;  // empty: nothing is addressed, data may be NULL
  }
  if (!t->data) return Invalid(Format("%s.data is NULL", name));
  // The largest offset, sum (dims[a]-1)*strides[a], times the element size.
  int64_t last = 0;
  for (int a = 0; a < 4; ++a) {
    int64_t term;
    if (__builtin_mul_overflow(t->dims[a] - 1, t->strides[a], &term) ||
        __builtin_add_overflow(last, term, &last)) {
      return Invalid(Format("%s: dims {%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                            "} with strides {%" PRId64 ", %" PRId64 ", %" PRId64
                            ", %" PRId64 "} overflow a 64-bit offset",
                            name, t->dims[0], t->dims[1], t->dims[2], t->dims[3],
                            t->strides[0], t->strides[1], t->strides[2], t->strides[3]));
    }
  }
  if (last > kMaxInt64 / DtypeSize(t->dtype) - 1) {
    return Invalid(Format("%s: its last element (offset %" PRId64
                          ") overflows a 64-bit byte offset", name, last));
  }
  return MHA_OK;
}

mha_status CheckBias(const char* name, const mha_tensor* bias, const int64_t full[4],
                     mha_tensor* normal) {
  static const int64_t kMin[4] = {1, 1, 1, 1};
  if (mha_status s = CheckTensor(name, bias, kMin, false)) return s;
  if (bias->dtype != MHA_F32) {
    return Invalid(Format("%s.dtype=%s: the bias must be f32", name,
                          mha_dtype_name(bias->dtype)));
  }
  *normal = *bias;
  for (int a = 0; a < 4; ++a) {
    if (bias->dims[a] == full[a]) continue;
    if (bias->dims[a] != 1) {
      return Invalid(Format("%s.dims[%d]=%" PRId64 " but %s is %" PRId64
                            " (a bias dim must equal it or be 1)",
                            name, a, bias->dims[a], kScoreAxes[a], full[a]));
    }
    normal->dims[a] = full[a];
    normal->strides[a] = 0;
  }
  return MHA_OK;
}

mha_status CheckProbs(const char* name, const mha_tensor* probs, const int64_t full[4]) {
  static const int64_t kMin[4] = {1, 1, 0, 0};
  if (mha_status s = CheckTensor(name, probs, kMin, false)) return s;
  if (probs->dtype != MHA_F32) {
    return Invalid(Format("%s.dtype=%s: probs are written as f32", name,
                          mha_dtype_name(probs->dtype)));
  }
  for (int a = 0; a < 4; ++a) {
    if (probs->dims[a] != full[a]) {
      return Invalid(Format("%s.dims[%d]=%" PRId64 " but %s is %" PRId64, name, a,
                            probs->dims[a], kScoreAxes[a], full[a]));
    }
  }
  return MHA_OK;
}

mha_status CheckMaskOptions(float scale, int causal, int64_t window_left, int64_t window_right,
                            float softcap) {
  if (!std::isfinite(scale) || scale < 0) {
    return Invalid(Format("desc->scale=%g must be finite and >= 0 (0: 1/sqrt(head_dim))",
                          static_cast<double>(scale)));
  }
  if (!std::isfinite(softcap) || softcap < 0) {
    return Invalid(Format("desc->softcap=%g must be finite and >= 0 (0: off)",
                          static_cast<double>(softcap)));
  }
  if (causal != 0 && causal != 1) {
    return Invalid(Format("desc->causal=%d must be 0 or 1", causal));
  }
  if (window_left < -1 || window_right < -1) {
    return Invalid(Format("desc->window_left=%" PRId64 ", window_right=%" PRId64
                          ": each must be >= 0, or -1 for unlimited",
                          window_left, window_right));
  }
  return MHA_OK;
}

namespace {

mha_status ExpectDim(const char* name, const mha_tensor* t, int axis, int64_t expected,
                     const char* what) {
  if (t->dims[axis] == expected) return MHA_OK;
  return Invalid(Format("%s.dims[%d]=%" PRId64 " but %s is %" PRId64, name, axis,
                        t->dims[axis], what, expected));
}

mha_status CheckOptions(const mha_attention_desc& d, const mha_problem& p) {
  if (mha_status s = CheckMaskOptions(d.scale, d.causal, d.window_left, d.window_right,
                                      d.softcap)) {
    return s;
  }
  if (d.kv_lens) {
    for (int64_t b = 0; b < p.batch; ++b) {
      if (d.kv_lens[b] < 0 || d.kv_lens[b] > p.kv_len) {
        return Invalid(Format("desc->kv_lens[%" PRId64 "]=%d must be in [0, %" PRId64
                              "] (k.dims[1])", b, d.kv_lens[b], p.kv_len));
      }
    }
  }
  if (d.q_lens) {
    for (int64_t b = 0; b < p.batch; ++b) {
      if (d.q_lens[b] < 0 || d.q_lens[b] > p.q_len) {
        return Invalid(Format("desc->q_lens[%" PRId64 "]=%d must be in [0, %" PRId64
                              "] (q.dims[1])", b, d.q_lens[b], p.q_len));
      }
    }
  }
  return MHA_OK;
}

}  // namespace

mha_status ValidateAttention(const mha_tensor* q, const mha_tensor* k,
                             const mha_tensor* v, mha_tensor* out,
                             const mha_attention_desc* desc, mha_problem* problem) {
  static const int64_t kMinQkvo[4] = {1, 0, 1, 1};  // seq lengths may be 0
  if (mha_status s = CheckTensor("q", q, kMinQkvo, true)) return s;
  if (mha_status s = CheckTensor("k", k, kMinQkvo, true)) return s;
  if (mha_status s = CheckTensor("v", v, kMinQkvo, true)) return s;
  if (mha_status s = CheckTensor("out", out, kMinQkvo, true)) return s;

  if (mha_status s = ExpectDim("k", k, 0, q->dims[0], "q.dims[0] (batch)")) return s;
  if (mha_status s = ExpectDim("v", v, 0, q->dims[0], "q.dims[0] (batch)")) return s;
  if (mha_status s = ExpectDim("out", out, 0, q->dims[0], "q.dims[0] (batch)")) return s;
  if (mha_status s = ExpectDim("k", k, 3, q->dims[3], "q.dims[3] (head_dim)")) return s;
  if (mha_status s = ExpectDim("v", v, 1, k->dims[1], "k.dims[1] (kv_len)")) return s;
  if (mha_status s = ExpectDim("v", v, 2, k->dims[2], "k.dims[2] (num_kv_heads)")) return s;
  if (mha_status s = ExpectDim("out", out, 1, q->dims[1], "q.dims[1] (q_len)")) return s;
  if (mha_status s = ExpectDim("out", out, 2, q->dims[2], "q.dims[2] (num_heads)")) return s;
  if (mha_status s = ExpectDim("out", out, 3, v->dims[3], "v.dims[3] (v_head_dim)")) return s;
  if (q->dims[2] % k->dims[2] != 0) {
    return Invalid(Format("q.dims[2]=%" PRId64 " (num_heads) is not a multiple of k.dims[2]=%"
                          PRId64 " (num_kv_heads)", q->dims[2], k->dims[2]));
  }
  if (k->dtype != v->dtype) {
    return Invalid(Format("k.dtype=%s but v.dtype=%s: K and V must share a dtype",
                          mha_dtype_name(k->dtype), mha_dtype_name(v->dtype)));
  }

  mha_attention_desc d;
  if (mha_status s = ReadAttentionDesc(desc, &d)) return s;

  mha_problem p{};
  p.batch = q->dims[0];
  p.q_len = q->dims[1];
  p.num_heads = q->dims[2];
  p.head_dim = q->dims[3];
  p.kv_len = k->dims[1];
  p.num_kv_heads = k->dims[2];
  p.v_head_dim = v->dims[3];
  if (mha_status s = CheckOptions(d, p)) return s;
  if (d.alibi_slopes) {
    for (int64_t h = 0; h < p.num_heads; ++h) {
      if (!std::isfinite(d.alibi_slopes[h])) {
        return Invalid(Format("desc->alibi_slopes[%" PRId64 "]=%g must be finite", h,
                              static_cast<double>(d.alibi_slopes[h])));
      }
    }
  }
  const int64_t full[4] = {p.batch, p.num_heads, p.q_len, p.kv_len};
  if (d.bias) {
    if (mha_status s = CheckBias("desc->bias", d.bias, full, &p.bias)) return s;
    p.has_bias = 1;
  }
  if (d.probs) {
    if (mha_status s = CheckProbs("desc->probs", d.probs, full)) return s;
  }
  int64_t rows;
  if (__builtin_mul_overflow(p.batch, p.num_heads, &rows) ||
      __builtin_mul_overflow(rows, p.q_len, &rows)) {
    return Invalid(Format("batch * num_heads * q_len = %" PRId64 " * %" PRId64 " * %" PRId64
                          " overflows int64", p.batch, p.num_heads, p.q_len));
  }

  p.scale = d.scale > 0 ? d.scale : static_cast<float>(1.0 / std::sqrt(double(p.head_dim)));
  p.causal = d.causal;
  // A window wider than Lq + Lk limits nothing; clamped there, positions +- a window
  // cannot overflow in the backends' mask arithmetic.
  const int64_t widest = p.q_len + p.kv_len;
  p.window_left = std::min(d.window_left, widest);
  p.window_right = std::min(d.window_right, widest);
  p.softcap = d.softcap;
  p.alibi_slopes = d.alibi_slopes;
  p.kv_lens = d.kv_lens;
  p.q_lens = d.q_lens;
  p.probs = d.probs;
  p.lse = d.lse;
  p.q = *q;
  p.k = *k;
  p.v = *v;
  p.out = *out;
  *problem = p;
  return MHA_OK;
}

}  // namespace mha
