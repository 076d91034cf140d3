#include "layer_desc.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "dtype_choice.h"
#include "strided_buffer.h"
#include "value_fill.h"

namespace mha_fuzz {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

LayerShape Resolve(const mha_layer_desc& d) {
  LayerShape s;
  s.d_model = d.d_model;
  s.kv_d_model = d.kv_d_model ? d.kv_d_model : d.d_model;
  s.heads = d.num_heads;
  s.kv_heads = d.num_kv_heads ? d.num_kv_heads : d.num_heads;
  s.head_dim = d.head_dim ? d.head_dim : (d.num_heads > 0 ? d.d_model / d.num_heads : 0);
  if (s.d_model < 1 || s.kv_d_model < 1 || s.heads < 1 || s.kv_heads < 1 || s.head_dim < 1) {
    return LayerShape{};
  }
  return s;
}

}  // namespace

void DecodeLayerDesc(FuzzInput& in, std::mt19937& rng, mha_layer_desc* d, LayerWeights* w,
                     LayerShape* shape) {
  static const int64_t kDModel[6] = {8, 16, 12, 4, 1, 32};
  static const int64_t kKvHeads[4] = {1, 1, 2, 0};
  static const int64_t kGroup[3] = {1, 2, 3};
  static const int64_t kHeadDim[6] = {0, 0, 4, 8, 2, 6};
  mha_layer_desc_init(d);
  d->d_model = in.Pick(kDModel);
  d->num_kv_heads = in.Pick(kKvHeads);
  d->num_heads = std::max<int64_t>(d->num_kv_heads, 1) * in.Pick(kGroup);
  if (in.Chance(3)) d->num_heads = in.Chance(50) ? 0 : d->num_heads + 1;
  d->head_dim = in.Pick(kHeadDim);
  if (in.Chance(20)) d->kv_d_model = in.Chance(50) ? 5 : d->d_model * 2;
  SetRaw(&d->weight_dtype, DecodeDtype(in));
  SetRaw(&d->activation_dtype, in.Chance(70) ? int{MHA_F32} : DecodeDtype(in));
  static const float kScale[5] = {0, 0, 0.3f, -1, kNaN};
  static const float kSoftcap[4] = {0, 0, 2, -1};
  static const int kCausal[4] = {0, 1, 1, 3};
  d->scale = in.Pick(kScale);
  d->softcap = in.Pick(kSoftcap);
  d->causal = in.Pick(kCausal);
  if (in.Chance(25)) {
    static const int64_t kWindows[5] = {-1, 0, 1, 3, -5};
    d->window_left = in.Pick(kWindows);
    d->window_right = in.Pick(kWindows);
  }
  static const int kRope[4] = {MHA_ROPE_NONE, MHA_ROPE_NEOX, MHA_ROPE_GPTJ, 9};
  static const int64_t kRopeDims[5] = {0, 0, 2, 3, 64};
  static const float kTheta[5] = {0, 10000, 500000, 1, kNaN};
  SetRaw(&d->rope, in.Pick(kRope));
  d->rope_dims = in.Pick(kRopeDims);
  d->rope_theta = in.Pick(kTheta);

  *shape = Resolve(*d);
  const LayerShape& s = *shape;
  if (s.heads == 0) return;  // create must reject it; no weights needed
  if (in.Chance(15)) {
    static const float kSlopes[4] = {0.5f, 0.125f, 0, kNaN};
    for (int64_t h = 0; h < s.heads; ++h) w->alibi.push_back(in.Pick(kSlopes));
    d->alibi_slopes = w->alibi.data();
  }
  const int64_t q_out = s.heads * s.head_dim, kv_out = s.kv_heads * s.head_dim;
  const auto matrix = [&](int64_t rows, int64_t cols) {
    return Typed(TameValues(static_cast<size_t>(rows * cols), 1.0 / std::sqrt(double(cols)), rng),
                 d->weight_dtype);
  };
  const bool packed = in.Chance(50);
  if (packed || in.Chance(3)) {
    w->in_proj = matrix(q_out + 2 * kv_out, s.d_model);
    d->in_proj_weight = w->in_proj.data();
  }
  if (!packed || in.Chance(3)) {
    w->wq = matrix(q_out, s.d_model);
    w->wk = matrix(kv_out, s.kv_d_model);
    w->wv = matrix(kv_out, s.kv_d_model);
    d->wq = w->wq.data();
    d->wk = w->wk.data();
    d->wv = in.Chance(3) ? nullptr : w->wv.data();
  }
  w->wo = matrix(s.d_model, q_out);
  d->wo = in.Chance(2) ? nullptr : w->wo.data();
  if (in.Chance(50)) {
    if (in.Chance(50)) {
      w->in_proj_bias = TameValues(static_cast<size_t>(q_out + 2 * kv_out), 0.5, rng);
      d->in_proj_bias = w->in_proj_bias.data();
    } else {
      w->bq = TameValues(static_cast<size_t>(q_out), 0.5, rng);
      w->bk = TameValues(static_cast<size_t>(kv_out), 0.5, rng);
      w->bv = TameValues(static_cast<size_t>(kv_out), 0.5, rng);
      d->bq = w->bq.data();
      d->bk = in.Chance(50) ? w->bk.data() : nullptr;
      d->bv = w->bv.data();
    }
    w->bo = TameValues(static_cast<size_t>(s.d_model), 0.5, rng);
    d->bo = w->bo.data();
  }
}

}  // namespace mha_fuzz
