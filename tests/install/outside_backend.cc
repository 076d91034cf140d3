// A backend built outside the tree from the installed headers alone: the ABI
// (mha/backend.h) and the backend kit (mha/kit/). Plain scalar attention in f32, written
// the way a third party would start one; it declines probs and lse, so a context lists a
// second backend for them.
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include <mha/backend.h>
#include <mha/kit/dtype.h>
#include <mha/kit/mask.h>
#include <mha/kit/tensor_view.h>

namespace {

mha_status Create(const mha_backend_config*, void** instance, mha_backend_report*) {
  *instance = nullptr;
  return MHA_OK;
}

void Destroy(void*) {}

const char* Isa(const void*) { return "scalar"; }

int Supports(const void*, const mha_problem* p, mha_backend_report* report) {
  if (!p->probs && !p->lse) return 1;
  std::snprintf(report->message, sizeof report->message, "outside: no probs or lse");
  return 0;
}

// One query row of one head: softmax over the visible keys, then the weighted values.
void Row(const mha_problem& p, int64_t b, int64_t h, int64_t i, std::vector<float>& s) {
  const int64_t g = h / (p.num_heads / p.num_kv_heads);
  const mha::KeyRange keys = mha::VisibleKeys(p, b, i);
  const int64_t q_row = mha::RowOffset(p.q, b, i, h);
  const int64_t pos = mha::QueryPosition(p, b, i);
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t j = keys.begin; j < keys.end; ++j) {
    const int64_t k_row = mha::RowOffset(p.k, b, j, g);
    float dot = 0.0f;
    for (int64_t d = 0; d < p.head_dim; ++d) {
      dot += mha::LoadAsF32(p.q.data, p.q.dtype, q_row + d) *
             mha::LoadAsF32(p.k.data, p.k.dtype, k_row + d);
    }
    float score = p.scale * dot;
    if (p.softcap > 0) score = p.softcap * std::tanh(score / p.softcap);
    if (p.has_bias) {
      score += static_cast<const float*>(p.bias.data)[mha::RowOffset(p.bias, b, h, i) +
                                                      j * p.bias.strides[3]];
    }
    if (p.alibi_slopes) score += p.alibi_slopes[h] * static_cast<float>(j - pos);
    s[j] = score;
    max = std::fmax(max, score);
  }
  float sum = 0.0f;
  for (int64_t j = keys.begin; j < keys.end; ++j) sum += s[j] = std::exp(s[j] - max);
  const int64_t out_row = mha::RowOffset(p.out, b, i, h);
  for (int64_t e = 0; e < p.v_head_dim; ++e) {
    float acc = 0.0f;
    for (int64_t j = keys.begin; j < keys.end; ++j) {
      acc += s[j] * mha::LoadAsF32(p.v.data, p.v.dtype, mha::RowOffset(p.v, b, j, g) + e);
    }
    mha::StoreFromF32(p.out.data, p.out.dtype, out_row + e, keys.empty() ? 0.0f : acc / sum);
  }
}

mha_status Attention(void*, const mha_problem* p, mha_backend_report* report) {
  std::snprintf(report->impl, sizeof report->impl, "outside:scalar");
  std::vector<float> scores(static_cast<size_t>(p->kv_len));
  for (int64_t b = 0; b < p->batch; ++b)
    for (int64_t h = 0; h < p->num_heads; ++h)
      for (int64_t i = 0; i < p->q_len; ++i) Row(*p, b, h, i, scores);
  return MHA_OK;
}

const mha_backend_iface kTable = {
    MHA_BACKEND_ABI_VERSION, "outside", "1", Create, Destroy, Isa, Supports, Attention,
    nullptr, nullptr, nullptr,  // no GEMM
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const mha_backend_iface* mha_backend_get(
    uint32_t) {
  return &kTable;
}
