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
 */
#ifndef MHA_BACKEND_H_
#define MHA_BACKEND_H_

#include "mha/mha.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MHA_BACKEND_ABI_VERSION 1u

/* SIMD ceilings of MHA_MAX_ISA, in increasing order. */
typedef enum {
  MHA_ISA_SCALAR = 0,
  MHA_ISA_SSE4,
  MHA_ISA_AVX2,
  MHA_ISA_AVX512,
  MHA_ISA_AVX512_BF16,
  MHA_ISA_NATIVE /* no cap */
} mha_isa;

/* Settings a backend instance is created with (one instance per context). */
typedef struct {
  mha_isa max_isa;
  int verbose; /* MHA_VERBOSE level */
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
} mha_problem;

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
} mha_backend_iface;

typedef const mha_backend_iface* (*mha_backend_get_fn)(uint32_t host_abi_version);

#define MHA_BACKEND_ENTRY_SYMBOL "mha_backend_get"

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MHA_BACKEND_H_ */
