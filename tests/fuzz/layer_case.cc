#include "layer_case.h"

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "c_calls.h"
#include "dtype_choice.h"
#include "findings.h"
#include "fuzz_contexts.h"
#include "layer_compare.h"
#include "layer_desc.h"
#include "layer_forward_call.h"

namespace mha_fuzz {
namespace {

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

using Instances = std::vector<std::unique_ptr<Instance>>;  // the reference first

void CheckSame(const Outcome& want, const Outcome& got, const std::string& name, const char* call) {
  if (want.status != got.status) {
    Finding(name + ": " + call + " gave " + mha_status_name(got.status) + " but the reference " +
            mha_status_name(want.status));
  }
}

// Creates a cache for every instance; they must all succeed or all fail alike.
void CreateCaches(FuzzInput& in, const LayerShape& shape, int64_t cache_batch, Instances& all) {
  static const int64_t kCapacity[4] = {1, 4, 8, 16};
  const int64_t capacity = in.Pick(kCapacity);
  const int64_t head_dim = shape.head_dim + (in.Chance(3) ? 1 : 0);
  const int dtype = DecodeDtype(in);
  Outcome want;
  for (size_t i = 0; i < all.size(); ++i) {
    const Outcome o = Observe(FuzzKvCacheCreate(all[i]->backend.ctx, cache_batch, shape.kv_heads,
                                                capacity, head_dim, dtype, &all[i]->cache),
                              "mha_kv_cache_create");
    if (i == 0) want = o;
    CheckSame(want, o, all[i]->backend.name, "mha_kv_cache_create");
  }
}

// Rolls one row of every cache back, as decoded from the input.
void Truncate(FuzzInput& in, int64_t cache_batch, Instances& all, SpecialTokens* cached) {
  const mha_kv_cache* ref_cache = all[0]->cache;
  const int64_t b = in.Int(-1, cache_batch);
  const int64_t n = in.Int(-1, 1 + mha_kv_cache_length(ref_cache, std::max<int64_t>(b, 0)));
  Outcome want;
  for (size_t i = 0; i < all.size(); ++i) {
    const Outcome o = Observe(mha_kv_cache_truncate(all[i]->cache, b, n), "mha_kv_cache_truncate");
    if (i == 0) want = o;
    CheckSame(want, o, all[i]->backend.name, "mha_kv_cache_truncate");
  }
  if (want.status == MHA_OK) (*cached)[b].resize(static_cast<size_t>(n));
}

// Marks the tokens a successful cached forward appended.
void Append(const LayerForward& f, const std::vector<int64_t>& before, SpecialTokens* cached) {
  for (int64_t b = 0; b < f.batch; ++b) {
    const int64_t q = f.q_lens.empty() ? f.len : f.q_lens[b];
    std::vector<bool>& row = (*cached)[b];
    row.resize(static_cast<size_t>(before[b]));
    for (int64_t t = 0; t < q; ++t) row.push_back(f.x_special[b * f.len + t]);
  }
}

}  // namespace

void FuzzLayer(FuzzInput& in) {
  std::vector<NamedContext> backends = PickBackends(in);
  std::mt19937 rng(in.Word());
  mha_layer_desc desc;
  LayerWeights weights;
  LayerShape shape;
  DecodeLayerDesc(in, rng, &desc, &weights, &shape);

  Instances all;
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
  if (!cross && in.Chance(60)) CreateCaches(in, shape, cache_batch, all);
  mha_kv_cache* ref_cache = all[0]->cache;
  SpecialTokens cached(static_cast<size_t>(cache_batch));

  const int steps = 1 + in.Byte() % 6;
  for (int step = 0; step < steps; ++step) {
    const int op = in.Byte() % 8;
    if (op == 5 && ref_cache) {
      Truncate(in, cache_batch, all, &cached);
      continue;
    }
    if (op == 6 && ref_cache) {
      for (auto& inst : all) mha_kv_cache_reset(inst->cache);
      for (auto& row : cached) row.clear();
      continue;
    }
    LayerForward f;
    if (!DecodeLayerForward(in, rng, shape, cross, ref_cache, cache_batch, &f)) return;
    std::vector<int64_t> before;
    for (int64_t b = 0; ref_cache && b < cache_batch; ++b) {
      before.push_back(mha_kv_cache_length(ref_cache, b));
    }
    const LayerForwardResult want =
        RunLayerForward(all[0]->layer, all[0]->cache, f, shape.heads, cache_batch);
    if (want.outcome.status != MHA_OK && want.lengths != before && ref_cache) {
      Finding("reference: a failed forward changed the cache lengths");
    }
    for (size_t i = 1; i < all.size(); ++i) {
      const LayerForwardResult got =
          RunLayerForward(all[i]->layer, all[i]->cache, f, shape.heads, cache_batch);
      if (BothRan(want.outcome, got.outcome, all[i]->backend.name.c_str(), "mha_layer_forward")) {
        CompareLayerForward(desc, shape, f, cached, f.use_cache ? ref_cache : nullptr, want, got,
                            all[i]->backend.name);
      }
      // A backend that declined leaves its cache behind the reference's: stop here.
      if (got.outcome.status != want.outcome.status) return;
    }
    if (want.outcome.status == MHA_OK && f.use_cache) Append(f, before, &cached);
  }
}

}  // namespace mha_fuzz
