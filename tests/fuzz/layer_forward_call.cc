#include "layer_forward_call.h"

#include <algorithm>
#include <limits>

#include "dtype_choice.h"
#include "mha/kit/dtype.h"
#include "value_fill.h"

namespace mha_fuzz {
namespace {

std::vector<int32_t> Lengths(FuzzInput& in, int64_t batch, int64_t max) {
  std::vector<int32_t> lens(static_cast<size_t>(batch));
  for (int32_t& n : lens) n = static_cast<int32_t>(in.Int(0, max));
  if (batch > 0 && in.Chance(4)) lens[in.Int(0, batch - 1)] = in.Chance(50) ? -1 : int32_t(max + 1);
  return lens;
}

// Per-token special flags of a [B, L, 1, F] buffer.
std::vector<bool> SpecialRows(const StridedBuffer& t) {
  std::vector<bool> special(
      static_cast<size_t>(std::max<int64_t>(t.view.dims[0] * t.view.dims[1], 0)));
  if (!t.addressable || !mha::IsDtype(t.view.dtype)) return special;
  ForEachElement(t.view, [&](const int64_t* i, int64_t offset) {
    if (IsSpecial(Load(t, offset))) special[i[0] * t.view.dims[1] + i[1]] = true;
  });
  return special;
}

bool MakeRows(FuzzInput& in, int64_t batch, int64_t len, int64_t features, int dtype,
              StridedBuffer* b) {
  const int64_t dims[4] = {batch, len, 1, features};
  return MakeBuffer(in, dims, dtype, true, b);
}

}  // namespace

bool DecodeLayerForward(FuzzInput& in, std::mt19937& rng, const LayerShape& s, bool cross,
                        const mha_kv_cache* ref_cache, int64_t cache_batch, LayerForward* f) {
  static const int64_t kLen[6] = {1, 1, 2, 3, 5, 0};
  f->use_cache = ref_cache && in.Chance(80);
  f->batch = f->use_cache && in.Chance(90) ? cache_batch : in.Int(0, 2);
  f->len = in.Pick(kLen);
  f->has_x_kv = cross || (!f->use_cache && in.Chance(15));
  f->kv_len = f->has_x_kv ? in.Pick(kLen) : f->len;
  if (!MakeRows(in, f->batch, f->len, s.d_model, DecodeDtype(in), &f->x) ||
      !MakeRows(in, f->batch, f->len, s.d_model, DecodeDtype(in), &f->out)) {
    return false;
  }
  if (f->has_x_kv && !MakeRows(in, f->batch, f->kv_len, s.kv_d_model, DecodeDtype(in), &f->x_kv)) {
    return false;
  }
  FillTame(f->x, in.Chance(70) ? 1.0 : 4.0, rng);
  FillTame(f->x_kv, 1.0, rng);
  if (in.Chance(10)) AddSpecials(in, in.Chance(50) ? f->x : f->x_kv, 1 + in.Byte() % 2);
  f->x_special = SpecialRows(f->x);
  f->x_kv_special = SpecialRows(f->x_kv);

  mha_layer_options_init(&f->options);
  mha_layer_options& o = f->options;
  if (in.Chance(25) && f->batch > 0) {
    f->q_lens = Lengths(in, f->batch, f->len);
    o.q_lens = f->q_lens.data();
  }
  if (in.Chance(12) && f->batch > 0) {
    f->kv_lens = in.Chance(50) && !f->q_lens.empty() ? f->q_lens : Lengths(in, f->batch, f->kv_len);
    o.kv_lens = f->kv_lens.data();
  }
  // Keys attended: with a cache, the longest row after this step.
  int64_t keys = f->kv_len;
  if (f->use_cache) {
    keys = 0;
    for (int64_t b = 0; b < f->batch; ++b) {
      const int64_t q = f->q_lens.empty() ? f->len : f->q_lens[b];
      keys = std::max(keys, mha_kv_cache_length(ref_cache, b) + std::max<int64_t>(q, 0));
    }
  }
  const int64_t full[4] = {f->batch, s.heads, f->len, keys};
  if (in.Chance(12)) {
    int64_t md[4];
    const uint8_t broadcast = in.Byte();
    for (int a = 0; a < 4; ++a) md[a] = broadcast >> a & 1 ? 1 : full[a];
    if (!MakeBuffer(in, md, MHA_F32, false, &f->mask)) return false;
    FillTame(f->mask, 1.0, rng);
    f->has_mask = true;
    o.attn_mask = &f->mask.view;
  }
  if (in.Chance(15)) {
    int64_t pd[4] = {full[0], in.Chance(50) ? 1 : full[1], full[2], full[3]};
    if (in.Chance(5)) pd[3] += 1;
    if (!MakeBuffer(in, pd, MHA_F32, false, &f->probs)) return false;
    f->has_probs = true;
  }
  f->has_lse = in.Chance(20) && f->batch * s.heads * f->len > 0;
  static const int64_t kOffsets[4] = {0, 0, 3, 1000};
  o.position_offset = in.Pick(kOffsets);
  return true;
}

LayerForwardResult RunLayerForward(mha_layer* layer, mha_kv_cache* cache, const LayerForward& f,
                                   int64_t heads, int64_t cache_batch) {
  LayerForwardResult r;
  r.out = f.out;
  r.out.view.data = f.out.view.data ? r.out.bytes.data() : nullptr;
  mha_layer_options o = f.options;
  if (f.has_probs) {
    r.probs = f.probs;
    r.probs.view.data = f.probs.view.data ? r.probs.bytes.data() : nullptr;
    o.probs = &r.probs.view;
  }
  if (f.has_lse) {
    r.lse.assign(static_cast<size_t>(f.batch * heads * f.len),
                 std::numeric_limits<float>::quiet_NaN());
    o.lse = r.lse.data();
  }
  r.outcome = Observe(mha_layer_forward(layer, &f.x.view, f.has_x_kv ? &f.x_kv.view : nullptr,
                                        &r.out.view, &o, f.use_cache ? cache : nullptr),
                      "mha_layer_forward");
  for (int64_t b = 0; cache && b < cache_batch; ++b) {
    r.lengths.push_back(mha_kv_cache_length(cache, b));
  }
  return r;
}

}  // namespace mha_fuzz
