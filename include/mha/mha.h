/* mha: multi-head attention on CPUs. The stable C API.
 *
 * Every function that can fail returns an mha_status; on failure it also sets a
 * thread-local sentence, read with mha_last_error(), that names the argument and
 * its values. Nothing aborts and nothing prints unless MHA_VERBOSE asks.
 *
 * Semantics (see docs/semantics.md for the full contract):
 *   S[i,j] = scale * dot(Q[b,i,h,:], K[b,j,g,:])        g = h / (Hq / Hkv)
 *   S      = softcap * tanh(S / softcap)                 if softcap > 0
 *   S     += bias[b,h,i,j]                                if bias
 *   S     += alibi_slopes[h] * (j - p(i))                 if alibi_slopes
 *   S      = -inf where causal / window / kv_lens forbid
 *   O[b,i,h,:] = softmax(S[i,:]) V[b,:,g,:]               fully forbidden row: O = 0
 * Positions are bottom-right aligned: query i sits at p(i) = i + (n - Lq), where n is
 * the row's key length (kv_lens[b] when given, else Lk).
 */
#ifndef MHA_MHA_H_
#define MHA_MHA_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define MHA_API __declspec(dllexport)
#else
#define MHA_API __attribute__((visibility("default")))
#endif

/* Element types. Arithmetic always accumulates in f32 (the reference: f64). */
typedef enum { MHA_F32 = 0, MHA_BF16 = 1, MHA_F16 = 2 } mha_dtype;

typedef enum {
  MHA_OK = 0,
  MHA_ERR_INVALID_ARGUMENT,    /* an argument is wrong; the message says which */
  MHA_ERR_UNSUPPORTED,         /* valid, but the chosen backend cannot run it */
  MHA_ERR_BACKEND_UNAVAILABLE, /* unknown backend name, or its module failed to load */
  MHA_ERR_OUT_OF_MEMORY,       /* a workspace could not be allocated */
  MHA_ERR_INTERNAL             /* a bug or an unexpected failure inside a backend */
} mha_status;

/* A 4-D strided view; strides are in elements, not bytes, and must be >= 0.
 * Q, K, V, out: axes [batch, seq, heads, head_dim], head_dim stride must be 1.
 *   BSHD (contiguous): strides {S*H*D, H*D, D, 1}; BHSD: {H*S*D, D, S*D, 1}.
 * bias, probs:  axes [batch, heads, q_seq, kv_seq]; a bias dim of 1 broadcasts.
 * No alignment is required. */
typedef struct {
  void* data;
  mha_dtype dtype;
  int64_t dims[4];
  int64_t strides[4];
} mha_tensor;

/* Options of one attention call. Initialise with mha_attention_desc_init(). */
typedef struct {
  float scale;                       /* 0: 1/sqrt(head_dim) */
  int causal;                        /* key j visible iff j <= p(i) (bottom-right) */
  int64_t window_left, window_right; /* -1: unlimited; visible iff
                                        p(i)-left <= j <= p(i)+right */
  float softcap;                     /* 0: off; > 0: S = c*tanh(S/c) */
  const float* alibi_slopes;         /* [Hq] or NULL: S += slope[h]*(j - p(i)) */
  const mha_tensor* bias;            /* f32 [B|1, Hq|1, Lq|1, Lk|1] or NULL */
  const int32_t* kv_lens;            /* [B], 0 <= kv_lens[b] <= Lk, or NULL */
  mha_tensor* probs;                 /* out: f32 [B, Hq, Lq, Lk] weights, or NULL */
  float* lse;                        /* out: [B, Hq, Lq] contiguous natural-log
                                        sum-exp of S; -inf for a forbidden row */
} mha_attention_desc;

typedef struct mha_context mha_context;

/* Creates a context. backend: a name ("highway", "onednn", "reference"), "auto", a
 * comma list in order of preference, or NULL to read MHA_BACKEND (default "auto").
 * Environment variables (MHA_NUM_THREADS, MHA_MAX_ISA, MHA_VERBOSE, MHA_PLUGIN_PATH)
 * are read here. Returns MHA_ERR_BACKEND_UNAVAILABLE with the list of available
 * backends when a name is unknown or its module cannot be loaded; *out is NULL then. */
MHA_API mha_status mha_context_create(const char* backend, mha_context** out);

/* Destroys a context; NULL is a no-op. */
MHA_API void mha_context_destroy(mha_context* ctx);

/* The name of the context's first backend, e.g. "highway"; NULL for NULL. */
MHA_API const char* mha_context_backend(const mha_context* ctx);

/* The SIMD level or implementation that backend runs, e.g. "AVX3_DL". */
MHA_API const char* mha_context_isa(const mha_context* ctx);

/* Threads for attention calls; n >= 1, or 0 for OpenMP's default. */
MHA_API mha_status mha_context_set_num_threads(mha_context* ctx, int n);

/* Fills *desc with the defaults: scale 0, no mask, windows -1, everything else off. */
MHA_API void mha_attention_desc_init(mha_attention_desc* desc);

/* out = attention(q, k, v) with the options of desc (NULL: defaults).
 * q [B, Lq, Hq, D], k [B, Lk, Hkv, D], v [B, Lk, Hkv, Dv], out [B, Lq, Hq, Dv];
 * Hq % Hkv == 0; k and v share a dtype; q, k/v and out choose theirs freely.
 * Lq == 0 does nothing; Lk == 0 writes zeros. Safe to call from several threads on
 * one context at once. */
MHA_API mha_status mha_attention(mha_context* ctx, const mha_tensor* q,
                                 const mha_tensor* k, const mha_tensor* v,
                                 mha_tensor* out, const mha_attention_desc* desc);

/* The backends this build knows: built-ins, then modules found on the plugin path. */
MHA_API int mha_backend_count(void);
MHA_API const char* mha_backend_name(int i); /* NULL when i is out of range */

/* 1 when a context could use the backend (its module loads), else 0; the reason is
 * then in mha_last_error(). */
MHA_API int mha_backend_available(const char* name);

/* The version a backend reports about itself (a module: its own and that of the library
 * it wraps, e.g. "1 (oneDNN 2.6.3)"), loading its module if needed; NULL when the
 * backend is not available, the reason then in mha_last_error(). */
MHA_API const char* mha_backend_version(const char* name);

/* The message of this thread's last failure ("" if none). */
MHA_API const char* mha_last_error(void);

/* The library version, "MAJOR.MINOR.PATCH". */
MHA_API const char* mha_version(void);

/* The name of a dtype ("f32", "bf16", "f16") or "?" for an unknown value. */
MHA_API const char* mha_dtype_name(mha_dtype dtype);

/* The name of a status ("MHA_OK", ...). */
MHA_API const char* mha_status_name(mha_status status);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MHA_MHA_H_ */
