#include "layer_case.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "c_calls.h"
#include "findings.h"
#include "fuzz_contexts.h"
#include "mha/kit/dtype.h"
#include "strided_buffer.h"
#include "value_fill.h"

namespace mha_fuzz {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// A dtype, now and then a value that is none.
int Dtype(FuzzInput& in) {
  if (in.Chance(2)) return 7;
  static const int kDtypes[4] = {MHA_F32, MHA_F32, MHA_BF16, MHA_F16};
  return in.Pick(kDtypes);
}

// Values stored in one dtype, exactly as many bytes as the layer should read.
std::vector<uint8_t> Typed(const std::vector<float>& values, const mha_dtype& dtype) {
  const mha_dtype d = mha::IsDtype(dtype) ? dtype : MHA_F32;
  std::vector<uint8_t> bytes(values.size() * static_cast<size_t>(mha::DtypeSize(d)));
  for (size_t i = 0; i < values.size(); ++i) {
    mha::StoreFromF32(bytes.data(), d, static_cast<int64_t>(i), values[i]);
  }
  return bytes;
}

struct Weights {
  std::vector<uint8_t> in_proj, wq, wk, wv, wo;
  std::vector<float> in_proj_bias, bq, bk, bv, bo, alibi;
};

// The layer's shape after the desc's defaults, or zeros where the desc is invalid.
struct Shape {
  int64_t d_model = 0, kv_d_model = 0, heads = 0, kv_heads = 0, head_dim = 0;
};

Shape Resolve(const mha_layer_desc& d) {
  Shape s;
  s.d_model = d.d_model;
  s.kv_d_model = d.kv_d_model ? d.kv_d_model : d.d_model;
  s.heads = d.num_heads;
  s.kv_heads = d.num_kv_heads ? d.num_kv_heads : d.num_heads;
  s.head_dim = d.head_dim ? d.head_dim : (d.num_heads > 0 ? d.d_model / d.num_heads : 0);
  if (s.d_model < 1 || s.kv_d_model < 1 || s.heads < 1 || s.kv_heads < 1 || s.head_dim < 1) {
    return Shape{};
  }
  return s;
}

void DecodeDesc(FuzzInput& in, std::mt19937& rng, mha_layer_desc* d, Weights* w, Shape* shape) {
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
  SetRaw(&d->weight_dtype, Dtype(in));
  SetRaw(&d->activation_dtype, in.Chance(70) ? int{MHA_F32} : Dtype(in));
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
  const Shape& s = *shape;
  if (s.heads == 0) return;  // create must reject it; no weights needed
  if (s.heads > 0 && in.Chance(15)) {
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

// One context's layer and cache.
struct Instance {
  NamedContext backend;
  mha_layer* layer = nullptr;
  mha_kv_cache* cache = nullptr;
  ~Instance() {
    mha_kv_cache_destroy(cache);
    mha_layer_destroy(layer);
  }
};

// The reference's cache contents, by token: whether each cached token of each row
// holds a special value (its K and V may then legitimately differ from the reference).
using SpecialTokens = std::vector<std::vector<bool>>;

struct Forward {
  int64_t batch = 0, len = 0, kv_len = 0;
  StridedBuffer x, x_kv, out, mask, probs;
  bool has_x_kv = false, has_mask = false, has_probs = false, has_lse = false;
  bool use_cache = false;
  std::vector<int32_t> q_lens, kv_lens;
  mha_layer_options options;
  std::vector<bool> x_special, x_kv_special;  // per [b, s] token
};

struct ForwardResult {
  Outcome outcome;
  StridedBuffer out, probs;
  std::vector<float> lse;
  std::vector<int64_t> lengths;
};

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

bool DecodeForward(FuzzInput& in, std::mt19937& rng, const Shape& s, bool cross,
                   const mha_kv_cache* ref_cache, int64_t cache_batch, Forward* f) {
  static const int64_t kLen[6] = {1, 1, 2, 3, 5, 0};
  f->use_cache = ref_cache && in.Chance(80);
  f->batch = f->use_cache && in.Chance(90) ? cache_batch : in.Int(0, 2);
  f->len = in.Pick(kLen);
  f->has_x_kv = cross || (!f->use_cache && in.Chance(15));
  f->kv_len = f->has_x_kv ? in.Pick(kLen) : f->len;
  if (!MakeRows(in, f->batch, f->len, s.d_model, Dtype(in), &f->x) ||
      !MakeRows(in, f->batch, f->len, s.d_model, Dtype(in), &f->out)) {
    return false;
  }
  if (f->has_x_kv && !MakeRows(in, f->batch, f->kv_len, s.kv_d_model, Dtype(in), &f->x_kv)) {
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

ForwardResult RunForward(Instance& inst, const Forward& f, int64_t heads, int64_t cache_batch) {
  ForwardResult r;
  r.out = f.out;
  r.out.view.data = f.out.view.data ? r.out.bytes.data() : nullptr;
  mha_layer_options o = f.options;
  if (f.has_probs) {
    r.probs = f.probs;
    r.probs.view.data = f.probs.view.data ? r.probs.bytes.data() : nullptr;
    o.probs = &r.probs.view;
  }
  if (f.has_lse) {
    r.lse.assign(static_cast<size_t>(f.batch * heads * f.len), kNaN);
    o.lse = r.lse.data();
  }
  mha_kv_cache* cache = f.use_cache ? inst.cache : nullptr;
  r.outcome = Observe(mha_layer_forward(inst.layer, &f.x.view, f.has_x_kv ? &f.x_kv.view : nullptr,
                                        &r.out.view, &o, cache),
                      "mha_layer_forward");
  for (int64_t b = 0; inst.cache && b < cache_batch; ++b) {
    r.lengths.push_back(mha_kv_cache_length(inst.cache, b));
  }
  return r;
}

bool AllF32(const mha_layer_desc& d, const Forward& f, const mha_kv_cache* cache) {
  mha_tensor k;
  const bool cache_f32 =
      !cache || (mha_kv_cache_views(cache, &k, nullptr) == MHA_OK && k.dtype == MHA_F32);
  return d.weight_dtype == MHA_F32 && d.activation_dtype == MHA_F32 && f.x.view.dtype == MHA_F32 &&
         f.out.view.dtype == MHA_F32 && (!f.has_x_kv || f.x_kv.view.dtype == MHA_F32) && cache_f32;
}

// Row s of batch b reads a special value: its own token, or a key it may attend.
bool ReadsSpecial(const Forward& f, const SpecialTokens& cached, int64_t b, int64_t s) {
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

void CompareForward(const mha_layer_desc& d, const Shape& s, const Forward& f,
                    const SpecialTokens& cached, const mha_kv_cache* cache,
                    const ForwardResult& want, const ForwardResult& got, const std::string& name) {
  if (got.lengths != want.lengths) Finding(name + ": cache lengths differ from the reference's");
  if (!PaddingUntouched(got.out)) Finding(name + ": wrote outside out's view");
  if (f.out.overlapping) return;
  std::vector<bool> compared(static_cast<size_t>(f.batch * f.len), false);
  double largest = 1;
  for (int64_t b = 0; b < f.batch; ++b) {
    const int64_t real = f.q_lens.empty() ? f.len : f.q_lens[b];
    for (int64_t t = 0; t < f.len; ++t) {
      compared[b * f.len + t] = t >= real || !ReadsSpecial(f, cached, b, t);
    }
  }
  const auto element = [](const StridedBuffer& t, int64_t b, int64_t s2, int64_t n) {
    return double(Load(t, b * t.view.strides[0] + s2 * t.view.strides[1] + n * t.view.strides[3]));
  };
  for (int64_t b = 0; b < f.batch; ++b) {
    for (int64_t t = 0; t < f.len; ++t) {
      if (!compared[b * f.len + t]) continue;
      for (int64_t n = 0; n < s.d_model; ++n)
        largest = std::max(largest, std::fabs(element(want.out, b, t, n)));
    }
  }
  const bool f32 = AllF32(d, f, cache);
  for (int64_t b = 0; b < f.batch; ++b) {
    const int64_t real = f.q_lens.empty() ? f.len : f.q_lens[b];
    for (int64_t t = 0; t < f.len; ++t) {
      if (!compared[b * f.len + t]) continue;
      for (int64_t n = 0; n < s.d_model; ++n) {
        const double g = element(got.out, b, t, n), w = element(want.out, b, t, n);
        const Tolerance tol = t >= real ? Tolerance{0, 0}
                              : f32     ? Tolerance{1e-4, 1e-4}
                                        : Tolerance{2e-2 * largest, 0};
        if (!Close(g, w, tol)) {
          char text[256];
          std::snprintf(text, sizeof text,
                        "%s: out[b=%" PRId64 ", s=%" PRId64 ", %" PRId64
                        "] = %.9g but the reference gives %.9g",
                        name.c_str(), b, t, n, g, w);
          Finding(text);
        }
      }
    }
  }
}

// Marks the tokens a successful cached forward appended.
void Append(const Forward& f, const std::vector<int64_t>& before, SpecialTokens* cached) {
  for (int64_t b = 0; b < f.batch; ++b) {
    const int64_t q = f.q_lens.empty() ? f.len : f.q_lens[b];
    std::vector<bool>& row = (*cached)[b];
    row.resize(static_cast<size_t>(before[b]));
    for (int64_t t = 0; t < q; ++t) row.push_back(f.x_special[b * f.len + t]);
  }
}

void CheckSame(const Outcome& want, const Outcome& got, const std::string& name, const char* call) {
  if (want.status != got.status) {
    Finding(name + ": " + call + " gave " + mha_status_name(got.status) + " but the reference " +
            mha_status_name(want.status));
  }
}

}  // namespace

void FuzzLayer(FuzzInput& in) {
  std::vector<NamedContext> backends = PickBackends(in);
  std::mt19937 rng(in.Word());
  mha_layer_desc desc;
  Weights weights;
  Shape shape;
  DecodeDesc(in, rng, &desc, &weights, &shape);

  std::vector<std::unique_ptr<Instance>> all;  // the reference first
  all.push_back(std::make_unique<Instance>());
  all[0]->backend = {"reference", ReferenceContext()};
  for (const NamedContext& b : backends) {
    all.push_back(std::make_unique<Instance>());
    all.back()->backend = b;
  }
  const Outcome created =
      Observe(mha_layer_create(all[0]->backend.ctx, &desc, &all[0]->layer), "mha_layer_create");
  for (size_t i = 1; i < all.size(); ++i) {
    const Outcome o =
        Observe(mha_layer_create(all[i]->backend.ctx, &desc, &all[i]->layer), "mha_layer_create");
    CheckSame(created, o, all[i]->backend.name, "mha_layer_create");
  }
  if (created.status != MHA_OK) return;

  const bool cross = shape.kv_d_model != shape.d_model;
  const int64_t cache_batch = 1 + in.Byte() % 2;
  if (!cross && in.Chance(60)) {
    static const int64_t kCapacity[4] = {1, 4, 8, 16};
    const int64_t capacity = in.Pick(kCapacity);
    const int64_t head_dim = shape.head_dim + (in.Chance(3) ? 1 : 0);
    const int dtype = Dtype(in);
    Outcome want;
    for (size_t i = 0; i < all.size(); ++i) {
      const Outcome o = Observe(FuzzKvCacheCreate(all[i]->backend.ctx, cache_batch, shape.kv_heads,
                                                  capacity, head_dim, dtype, &all[i]->cache),
                                "mha_kv_cache_create");
      if (i == 0) want = o;
      CheckSame(want, o, all[i]->backend.name, "mha_kv_cache_create");
    }
  }
  mha_kv_cache* ref_cache = all[0]->cache;
  SpecialTokens cached(static_cast<size_t>(cache_batch));

  const int steps = 1 + in.Byte() % 6;
  for (int step = 0; step < steps; ++step) {
    const int op = in.Byte() % 8;
    if (op == 5 && ref_cache) {
      const int64_t b = in.Int(-1, cache_batch);
      const int64_t n = in.Int(-1, 1 + mha_kv_cache_length(ref_cache, std::max<int64_t>(b, 0)));
      Outcome want;
      for (size_t i = 0; i < all.size(); ++i) {
        const Outcome o =
            Observe(mha_kv_cache_truncate(all[i]->cache, b, n), "mha_kv_cache_truncate");
        if (i == 0) want = o;
        CheckSame(want, o, all[i]->backend.name, "mha_kv_cache_truncate");
      }
      if (want.status == MHA_OK) cached[b].resize(static_cast<size_t>(n));
      continue;
    }
    if (op == 6 && ref_cache) {
      for (auto& inst : all) mha_kv_cache_reset(inst->cache);
      for (auto& row : cached) row.clear();
      continue;
    }
    Forward f;
    if (!DecodeForward(in, rng, shape, cross, ref_cache, cache_batch, &f)) return;
    std::vector<int64_t> before;
    for (int64_t b = 0; ref_cache && b < cache_batch; ++b)
      before.push_back(mha_kv_cache_length(ref_cache, b));
    const ForwardResult want = RunForward(*all[0], f, shape.heads, cache_batch);
    if (want.outcome.status != MHA_OK && want.lengths != before && ref_cache) {
      Finding("reference: a failed forward changed the cache lengths");
    }
    for (size_t i = 1; i < all.size(); ++i) {
      const ForwardResult got = RunForward(*all[i], f, shape.heads, cache_batch);
      if (BothRan(want.outcome, got.outcome, all[i]->backend.name.c_str(), "mha_layer_forward")) {
        CompareForward(desc, shape, f, cached, f.use_cache ? ref_cache : nullptr, want, got,
                       all[i]->backend.name);
      }
      // A backend that declined leaves its cache behind the reference's: stop here.
      if (got.outcome.status != want.outcome.status) return;
    }
    if (want.outcome.status == MHA_OK && f.use_cache) Append(f, before, &cached);
  }
}

}  // namespace mha_fuzz
