// The conformance helper: runs any backend against the reference on generated
// problems (shapes, dtypes, layouts, masks) and checks the results with tolerances
// stated per dtype. Every backend's tests plug into it.
#ifndef MHA_TESTS_CONFORMANCE_H_
#define MHA_TESTS_CONFORMANCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "mha/mha.h"

namespace mha_test {

// How Q, K, V and out are laid out in memory; every one is a strided view.
enum class Layout {
  kBshd,       // contiguous [B, S, H, D]
  kBhsd,       // contiguous [B, H, S, D]
  kPadded,     // BSHD with gaps after each head, row and batch
  kPackedQkv,  // one [B, S, Hq + 2 Hkv, D] buffer (needs Lq == Lk, D == Dv, one dtype)
};

// Which bias is passed; broadcast shapes have 1 on the axes named.
enum class BiasKind {
  kNone,
  kFull,         // [B, Hq, Lq, Lk]
  kPerHead,      // [1, Hq, Lq, Lk]
  kKeyPadding,   // [B, 1, 1, Lk], with some keys at -inf
  kShared,       // [1, 1, Lq, Lk]
  kStridedKeys,  // [1, Hq, Lq, Lk], every other float of its storage
  kPerQuery,     // [B, 1, Lq, 1]: broadcast over keys
};

struct Case {
  int64_t batch = 1, num_heads = 1, num_kv_heads = 1;
  int64_t q_len = 1, kv_len = 1, head_dim = 8, v_head_dim = 8;
  mha_dtype q_dtype = MHA_F32, kv_dtype = MHA_F32, out_dtype = MHA_F32;
  Layout layout = Layout::kBshd;
  float scale = 0.0f;  // 0: default
  bool causal = false;
  int64_t window_left = -1, window_right = -1;
  float softcap = 0.0f;
  bool alibi = false;
  BiasKind bias = BiasKind::kNone;
  bool kv_lens = false;  // random per-row lengths in [0, Lk]
  bool q_lens = false;   // random per-row query counts in [0, Lq]
  bool probs = false;
  bool lse = false;
  float logit_scale = 1.0f;  // multiplies Q: 1e3 gives |S| ~ 1e3
  uint64_t seed = 1;

  std::string Describe() const;
};

// Whether Q, K and V of `c` can share one packed buffer (Layout::kPackedQkv): the
// same sequence length, head dim and dtype.
bool PackedQkvFits(const Case& c);

// |got - want| <= atol + rtol * |want|, elementwise.
struct Tolerance {
  double atol, rtol;
};

// The tolerances every backend is held to (see conformance.cc for why):
// out, by K/V dtype and out dtype; probs and lse are f32 outputs.
Tolerance OutTolerance(const Case& c);
Tolerance ProbsTolerance(const Case& c);
Tolerance LseTolerance(const Case& c);

// A deterministic grid of `count` random cases drawn from every feature and dtype,
// with sizes up to max_len and head dims from `head_dims`.
std::vector<Case> RandomCases(uint64_t seed, int count, int64_t max_len,
                              const std::vector<int64_t>& head_dims);

// Runs `c` on `backend_ctx` and on a reference context over the same inputs and
// checks out, probs and lse with Catch2 (CHECK), reporting the case and the worst
// element on failure. Returns true when everything matched.
bool CheckAgainstReference(mha_context* backend_ctx, const Case& c);

}  // namespace mha_test

#endif  // MHA_TESTS_CONFORMANCE_H_
