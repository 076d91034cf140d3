/* mha backend ABI: how a backend plugs into the core.
 *
 * Built-in backends and loaded modules register through this same table. A module
 * named libmha_backend_<name>.so exports
 *
 *     const mha_backend_iface* mha_backend_get(uint32_t host_abi_version);
 *
 * and the core refuses a table whose abi_version differs from its own. The core
 * validates every argument before a backend sees it: a backend receives only valid,
 * normalised problems (mha_problem) and never has to re-check them.
 *
 * The backend kit, header-only C++ under mha/kit/, holds the rules every backend must
 * apply the same way: which keys a query sees (mask.h), dtype conversions (dtype.h),
 * strided addressing (tensor_view.h), a GEMM call's rows and stores (linear_call.h)
 * and rotary embedding (rope.h). docs/backends.md shows a module built on them.
 */
#ifndef MHA_BACKEND_H_
#define MHA_BACKEND_H_

#include "mha/mha.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MHA_BACKEND_ABI_VERSION 3u

/* Settings a backend instance is created with (one instance per context), resolved
 * from the context's options and the environment by the core. */
typedef struct {
  mha_isa max_isa;            /* the highest SIMD level the instance may use */
  int verbose;                /* 0, 1 or 2, as mha_context_options.verbose */
  size_t scores_budget_bytes; /* scratch for attention scores per call, for a backend
                                 that materialises them (onednn) */
} mha_backend_config;

/* A validated attention call. Shapes are resolved; bias is normalised to dims
 * {B, Hq, Lq, Lk} with stride 0 on every broadcast axis. */
typedef struct {
  int64_t batch, num_heads, num_kv_heads; /* B, Hq, Hkv */
  int64_t q_len, kv_len;                  /* Lq >= 1, Lk >= 0 */
  int64_t head_dim, v_head_dim;           /* D, Dv */
  float scale;                            /* resolved: never 0 */
  int causal;
  int64_t window_left, window_right;      /* -1: unlimited */
  float softcap;                          /* 0: off */
  const float* alibi_slopes;              /* [Hq] or NULL */
  const int32_t* kv_lens;                 /* [B] or NULL */
  int has_bias;
  mha_tensor bias;                        /* valid when has_bias */
  mha_tensor* probs;                      /* out [B, Hq, Lq, Lk] f32, or NULL */
  float* lse;                             /* out [B, Hq, Lq], or NULL */
  mha_tensor q, k, v;
  mha_tensor out;
  int num_threads;                        /* >= 1 */
  const int32_t* q_lens;                  /* [B] or NULL */
} mha_problem;

/* A linear layer y = x W^T + bias, packed once by a backend that has a GEMM. The core
 * guarantees N, K >= 1 and weight_row_stride >= K. */
typedef struct {
  int64_t out_features;      /* N */
  int64_t in_features;       /* K */
  mha_dtype weight_dtype;
  const void* weight;        /* [N, K], row n at weight + n * weight_row_stride */
  int64_t weight_row_stride; /* elements */
  const float* bias;         /* [N] or NULL; the backend copies what it keeps */
} mha_linear_desc;

/* One application of a packed linear layer to the rows (b, s) of x, b < batch,
 * s < seq_lens[b] (seq when NULL), with the epilogue fused into the store:
 *   y[b, s, n] = rope(sum_k x[b, s, k] W[n, k] + bias[n])
 * Element n = h * head_dim + d of row (b, s) is stored at
 *   y + b * y_batch_stride + (s + seq_offsets[b]) * y_seq_stride + h * y_head_stride + d
 * (seq_offsets NULL: 0), so a projection writes straight into a head layout or into a
 * KV cache at each row's own position. Rows s >= seq_lens[b] are neither read nor
 * written. RoPE (rope != MHA_ROPE_NONE) rotates the first rope_dims of each head at
 * position positions[b] + s (positions NULL: s); rope_inv_freq[i], i < rope_dims / 2,
 * are the frequencies theta^(-2i / rope_dims), computed by the core. Strides are in
 * elements; x's feature stride and y's head_dim stride are 1. */
typedef struct {
  int64_t batch, seq;
  const void* x;
  mha_dtype x_dtype;
  int64_t x_batch_stride, x_seq_stride;
  void* y;
  mha_dtype y_dtype;
  int64_t y_batch_stride, y_seq_stride, y_head_stride;
  int64_t head_dim;             /* divides N */
  const int32_t* seq_lens;      /* [batch] or NULL */
  const int32_t* seq_offsets;   /* [batch] or NULL */
  int rope;                     /* mha_rope_style */
  int64_t rope_dims;            /* even, <= head_dim */
  const float* rope_inv_freq;   /* [rope_dims / 2] when rope */
  const int64_t* positions;     /* [batch] or NULL */
  int num_threads;              /* >= 1 */
} mha_linear_call;

/* What a backend says back: the implementation that ran (for MHA_VERBOSE and
 * benchmark labels, e.g. "highway:flash:AVX3_DL") or why it failed or declined. */
typedef struct {
  char impl[64];
  char message[512];
} mha_backend_report;

typedef struct {
  uint32_t abi_version; /* MHA_BACKEND_ABI_VERSION */
  const char* name;     /* "highway" */
  const char* version;  /* the backend's own version string */

  /* Creates an instance for one context; on failure fills report->message. */
  mha_status (*create)(const mha_backend_config* config, void** instance,
                       mha_backend_report* report);
  void (*destroy)(void* instance);

  /* The ISA or implementation family the instance runs, e.g. "AVX3_DL". */
  const char* (*isa)(const void* instance);

  /* 1 if the instance can run the problem; 0 with the reason in report->message. */
  int (*supports)(const void* instance, const mha_problem* problem,
                  mha_backend_report* report);

  /* Runs the problem. Must be safe to call from several threads at once. */
  mha_status (*attention)(void* instance, const mha_problem* problem,
                          mha_backend_report* report);

  /* Optional GEMM for the layer's projections; all three NULL when the backend has
   * none, and the core then uses the next backend of the context's list. linear_create
   * packs the weights (MHA_ERR_UNSUPPORTED: this backend declines the dtype or shape,
   * with the reason in report->message); linear_forward must be safe to call from
   * several threads at once on one packed layer. */
  mha_status (*linear_create)(void* instance, const mha_linear_desc* desc, void** linear,
                              mha_backend_report* report);
  void (*linear_destroy)(void* instance, void* linear);
  mha_status (*linear_forward)(void* instance, const void* linear,
                               const mha_linear_call* call, mha_backend_report* report);
} mha_backend_iface;

typedef const mha_backend_iface* (*mha_backend_get_fn)(uint32_t host_abi_version);

#define MHA_BACKEND_ENTRY_SYMBOL "mha_backend_get"

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MHA_BACKEND_H_ */
