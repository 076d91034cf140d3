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
 * Positions are bottom-right aligned within each batch row: query i sits at
 * p(i) = i + (n - m), where n is the row's key length (kv_lens[b] when given, else Lk)
 * and m its query length (q_lens[b] when given, else Lq); queries i >= m are padding
 * and give zeros. This is FlashAttention's variable-length rule: a right-padded prompt
 * of t real tokens is q_lens[b] = kv_lens[b] = t; a KV-cache step of L new tokens over
 * c cached ones is q_lens[b] = L, kv_lens[b] = c + L.
 *
 * The layer (mha_layer_*) adds the projections around this core: Q = x Wq^T + bq,
 * K = x_kv Wk^T + bk, V = x_kv Wv^T + bv, optional rotary embedding on Q and K, the
 * heads' outputs concatenated and out = concat Wo^T + bo; an mha_kv_cache keeps K and V
 * across incremental decoding steps.
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

/* Option structs (mha_context_options, mha_attention_desc, mha_layer_desc,
 * mha_layer_options) are allocated by the caller and grow from release to release.
 * Each begins with struct_size, the size of the caller's version of the struct, which
 * its init function sets from the caller's own sizeof (the init functions are inline
 * for that reason): a library newer than the caller's header reads only the fields the
 * caller knows and gives the others their defaults, and never writes past the caller's
 * struct; an older library refuses a newer caller's struct only if that sets a field it
 * does not know. Always fill these structs with their init function first. */

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
  size_t struct_size;                /* set by mha_attention_desc_init */
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
  const int32_t* q_lens;             /* [B], 0 <= q_lens[b] <= Lq, or NULL: queries
                                        i >= q_lens[b] are padding (zeros, lse -inf,
                                        probs 0) and positions align to q_lens[b] */
} mha_attention_desc;

typedef struct mha_context mha_context;

/* SIMD levels a context may be capped at. Within one architecture the values
 * increase with the level: x86 SSE4 < AVX2 < AVX512 < AVX512_BF16, Arm NEON < SVE <
 * SVE2; SCALAR and NATIVE belong to every architecture. New levels are appended, so
 * existing values never change. A level of another architecture than the library's
 * is not supported (mha_isa_supported 0), and a context capped at one is refused with
 * MHA_ERR_INVALID_ARGUMENT naming the levels of this architecture. */
typedef enum {
  MHA_ISA_SCALAR = 0,
  MHA_ISA_SSE4,
  MHA_ISA_AVX2,
  MHA_ISA_AVX512,      /* AVX-512 F/BW/DQ/VL */
  MHA_ISA_AVX512_BF16, /* plus VNNI, VBMI2 and BF16 dot products */
  MHA_ISA_NATIVE,      /* no cap: the best the CPU has */
  MHA_ISA_NEON,        /* Arm AArch64 Advanced SIMD (with AES), 128-bit vectors */
  MHA_ISA_SVE,         /* Arm SVE, any vector length */
  MHA_ISA_SVE2         /* Arm SVE2 */
} mha_isa;

/* The level's name as MHA_MAX_ISA spells it ("avx2"); NULL for a value that is not an
 * mha_isa. The levels are the values from MHA_ISA_SCALAR to MHA_ISA_SVE2. */
MHA_API const char* mha_isa_name(mha_isa isa);

/* Parses a level's name, case-insensitive; MHA_ERR_INVALID_ARGUMENT lists the names. */
MHA_API mha_status mha_isa_from_name(const char* name, mha_isa* out);

/* 1 when this CPU can run the level (MHA_ISA_NATIVE and MHA_ISA_SCALAR: always). */
MHA_API int mha_isa_supported(mha_isa isa);

/* A field of mha_context_options left at this value takes its environment variable,
 * and the library's default when that is unset. */
#define MHA_FROM_ENVIRONMENT (-1)

/* How to create a context. Initialise with mha_context_options_init(): every setting
 * then comes from its environment variable, as for mha_context_create. */
typedef struct {
  size_t struct_size;      /* set by mha_context_options_init */
  const char* backend;     /* as mha_context_create's; NULL: MHA_BACKEND, else "auto" */
  int num_threads;         /* 1..4096, 0 for OpenMP's default; or MHA_NUM_THREADS */
  int max_isa;             /* an mha_isa; or MHA_MAX_ISA, else MHA_ISA_NATIVE */
  int verbose;             /* 0, 1 (one line per call) or 2 (and each decision) on
                              stderr; or MHA_VERBOSE, else 0 */
  const char* plugin_path; /* directories searched for modules, ':'-separated, before
                              the library's own; NULL: MHA_PLUGIN_PATH */
  int64_t onednn_scores_budget_mb; /* MiB, >= 1: the onednn backend's score scratch
                                      per call; or MHA_ONEDNN_SCORES_BUDGET_MB, else 64 */
} mha_context_options;

MHA_API void mha_context_options_init_size(mha_context_options* options, size_t size);
static inline void mha_context_options_init(mha_context_options* options) {
  mha_context_options_init_size(options, sizeof *options);
}

/* Creates a context with the given options (NULL: all from the environment). A setting
 * given here is not read from the environment, so a malformed variable for it does not
 * matter. Returns MHA_ERR_BACKEND_UNAVAILABLE with the list of available backends when
 * a name is unknown or its module cannot be loaded; *out is NULL on any failure. */
MHA_API mha_status mha_context_create_with(const mha_context_options* options,
                                           mha_context** out);

/* Creates a context of `backend`: a name ("highway", "onednn", "reference"), "auto",
 * a comma list in order of preference, or NULL to read MHA_BACKEND (default "auto").
 * Every other setting comes from the environment (MHA_NUM_THREADS, MHA_MAX_ISA,
 * MHA_VERBOSE, MHA_PLUGIN_PATH, MHA_ONEDNN_SCORES_BUDGET_MB). */
MHA_API mha_status mha_context_create(const char* backend, mha_context** out);

/* Destroys a context; NULL is a no-op. */
MHA_API void mha_context_destroy(mha_context* ctx);

/* The name of the context's first backend, e.g. "highway"; NULL for NULL. */
MHA_API const char* mha_context_backend(const mha_context* ctx);

/* The instruction set the first backend's kernels run, in that backend's words:
 * highway its Highway target ("AVX3_DL"), onednn oneDNN's ISA ("avx512_core_bf16"),
 * reference "scalar". */
MHA_API const char* mha_context_isa(const mha_context* ctx);

/* Threads for attention calls; n from 1 to 4096, or 0 for OpenMP's default. */
MHA_API mha_status mha_context_set_num_threads(mha_context* ctx, int n);

/* Fills *desc with the defaults: scale 0, no mask, windows -1, everything else off. */
MHA_API void mha_attention_desc_init_size(mha_attention_desc* desc, size_t size);
static inline void mha_attention_desc_init(mha_attention_desc* desc) {
  mha_attention_desc_init_size(desc, sizeof *desc);
}

/* out = attention(q, k, v) with the options of desc (NULL: defaults).
 * q [B, Lq, Hq, D], k [B, Lk, Hkv, D], v [B, Lk, Hkv, Dv], out [B, Lq, Hq, Dv];
 * Hq % Hkv == 0; k and v share a dtype; q, k/v and out choose theirs freely.
 * Lq == 0 does nothing; Lk == 0 writes zeros. Safe to call from several threads on
 * one context at once. */
MHA_API mha_status mha_attention(mha_context* ctx, const mha_tensor* q,
                                 const mha_tensor* k, const mha_tensor* v,
                                 mha_tensor* out, const mha_attention_desc* desc);

/* ---- Linear layers: the GEMM the layer's projections run on ------------------------
 *
 * y = x W^T + bias with W in nn.Linear's layout [out_features, in_features], row-major,
 * contiguous, packed once at create for the context's first backend that has a GEMM (the
 * caller may free weight and bias afterwards). */
typedef struct mha_linear mha_linear;

MHA_API mha_status mha_linear_create(mha_context* ctx, int64_t out_features,
                                     int64_t in_features, mha_dtype weight_dtype,
                                     const void* weight, const float* bias /* or NULL */,
                                     mha_linear** out);
MHA_API void mha_linear_destroy(mha_linear* linear);

/* x: dims {B, L, 1, in_features}; y: dims {B, L, H, D} with H * D = out_features (any
 * H; {B, L, 1, out_features} is the plain matrix). Feature strides 1, dtypes free.
 * With bf16 weights a backend may round x to bf16 for its dot products (as oneDNN and
 * PyTorch do); products accumulate in f32. Safe from several threads at once. */
MHA_API mha_status mha_linear_forward(mha_linear* linear, const mha_tensor* x, mha_tensor* y);

/* The backend that runs the linear layer, e.g. "highway". */
MHA_API const char* mha_linear_backend(const mha_linear* linear);

/* ---- The multi-head attention layer ------------------------------------------------
 *
 * x [B, L, d_model] and out [B, L, d_model] (and x_kv [B, Lkv, kv_d_model]) are written
 * as 4-D mha_tensor views with a heads axis of 1: dims {B, L, 1, d_model}, strides
 * {batch stride, token stride, any, 1}; a contiguous tensor has strides
 * {L * d_model, d_model, d_model, 1}. The feature stride must be 1. x, x_kv and out are
 * f32, bf16 or f16, each its own. */

/* Rotary position embedding on Q and K after projection (and before K is cached). */
typedef enum {
  MHA_ROPE_NONE = 0,
  MHA_ROPE_NEOX = 1, /* GPT-NeoX / LLaMA: dimension d pairs with d + rope_dims/2 */
  MHA_ROPE_GPTJ = 2  /* GPT-J interleaved: dimension 2i pairs with 2i + 1 */
} mha_rope_style;

/* A layer's shape, weights and fixed attention options. Initialise with
 * mha_layer_desc_init(). Weights use PyTorch's nn.Linear layout: [out, in], row-major,
 * contiguous, all of weight_dtype; biases are f32. The layer packs its own copy at
 * create: the caller may free every buffer afterwards. */
typedef struct {
  size_t struct_size;   /* set by mha_layer_desc_init */
  int64_t d_model;      /* features of x and of out */
  int64_t kv_d_model;   /* features of x_kv (cross-attention); 0: d_model */
  int64_t num_heads;    /* Hq */
  int64_t num_kv_heads; /* Hkv (GQA/MQA); Hq % Hkv == 0; 0: num_heads */
  int64_t head_dim;     /* D; 0: d_model / num_heads */
  mha_dtype weight_dtype;
  /* Either in_proj_weight = [Wq; Wk; Wv] as nn.MultiheadAttention stores it,
   * [(Hq + 2 Hkv) D, d_model] (self-attention shapes: kv_d_model == d_model), or the
   * three matrices wq [Hq D, d_model], wk and wv [Hkv D, kv_d_model]. */
  const void* in_proj_weight;
  const void* wq;
  const void* wk;
  const void* wv;
  const void* wo;              /* [d_model, Hq D] */
  const float* in_proj_bias;   /* [(Hq + 2 Hkv) D] = [bq; bk; bv], or NULL and then: */
  const float* bq;             /* [Hq D] or NULL */
  const float* bk;             /* [Hkv D] or NULL */
  const float* bv;             /* [Hkv D] or NULL */
  const float* bo;             /* [d_model] or NULL */
  /* Attention options, as in mha_attention_desc (alibi_slopes is copied at create). */
  float scale;
  int causal;
  int64_t window_left, window_right;
  float softcap;
  const float* alibi_slopes;
  /* Rotary embedding: the first rope_dims (even, <= D; 0: D) of every head of Q and K
   * rotate by position * rope_theta^(-2i / rope_dims) (rope_theta 0: 10000). */
  mha_rope_style rope;
  int64_t rope_dims;
  float rope_theta;
  /* dtype of the projected Q, K, V and of the heads' outputs between the GEMMs and
   * attention (f32, bf16 or f16; default f32). bf16 halves their traffic and lets bf16
   * kernels run; a KV cache keeps its own dtype. */
  mha_dtype activation_dtype;
} mha_layer_desc;

/* Per-call options of mha_layer_forward. Initialise with mha_layer_options_init(). */
typedef struct {
  size_t struct_size; /* set by mha_layer_options_init */
  /* [B] real tokens of x per row, the rest right padding (0 <= q_lens[b] <= L), or
   * NULL: all L. Padded rows of out are zeros. */
  const int32_t* q_lens;
  /* [B] real tokens of x_kv per row (key padding), or NULL: all. In self-attention
   * without a cache, keys and queries are the same tokens: give either array (or both,
   * equal); a row of n real tokens is then q_lens = kv_lens = n, so with causal query
   * i sees keys j <= i. Must be NULL with a cache, which knows its lengths. */
  const int32_t* kv_lens;
  /* Additive f32 bias on the logits, [B|1, Hq|1, L|1, Lk|1] (Lk: keys attended, with a
   * cache max_b(length_b + q_lens[b])), or NULL. */
  const mha_tensor* attn_mask;
  /* Out, f32: the attention weights [B, Hq, L, Lk], or [B, 1, L, Lk] for their mean
   * over heads (torch's average_attn_weights=True), or NULL. */
  mha_tensor* probs;
  float* lse;               /* out: [B, Hq, L] contiguous, or NULL */
  int64_t position_offset;  /* added to every RoPE position (default 0) */
} mha_layer_options;

typedef struct mha_layer mha_layer;
typedef struct mha_kv_cache mha_kv_cache;

/* Defaults: every pointer NULL, sizes 0, f32 weights, no mask, windows -1, no rope. */
MHA_API void mha_layer_desc_init_size(mha_layer_desc* desc, size_t size);
static inline void mha_layer_desc_init(mha_layer_desc* desc) {
  mha_layer_desc_init_size(desc, sizeof *desc);
}

/* Packs the weights for the context's backends (the first backend with a GEMM runs
 * the projections; MHA_VERBOSE=2 says which). The layer keeps a reference to ctx:
 * destroy the layer first. */
MHA_API mha_status mha_layer_create(mha_context* ctx, const mha_layer_desc* desc,
                                    mha_layer** out);

/* Destroys a layer; NULL is a no-op. */
MHA_API void mha_layer_destroy(mha_layer* layer);

/* Defaults: no lengths, mask, probs or lse; position_offset 0. */
MHA_API void mha_layer_options_init_size(mha_layer_options* options, size_t size);
static inline void mha_layer_options_init(mha_layer_options* options) {
  mha_layer_options_init_size(options, sizeof *options);
}

/* out = layer(x, x_kv). x_kv NULL: self-attention. options NULL: defaults.
 * cache NULL: attends over this call's keys only. With a cache (self-attention only),
 * row b's q_lens[b] new tokens sit at positions length_b .. length_b + q_lens[b] - 1:
 * their K/V (after RoPE) are written into the cache there, attention runs over the
 * cached keys in place, and length_b grows by q_lens[b]. Overflowing the capacity is an
 * error that changes nothing. Several threads may run forwards on one layer at once,
 * each with its own cache. */
MHA_API mha_status mha_layer_forward(mha_layer* layer, const mha_tensor* x,
                                     const mha_tensor* x_kv, mha_tensor* out,
                                     const mha_layer_options* options,
                                     mha_kv_cache* cache);

/* A KV cache for one layer: K and V each [batch, capacity, num_kv_heads, head_dim],
 * BSHD, contiguous, in dtype (f32, bf16 or f16), with a length per batch row. */
MHA_API mha_status mha_kv_cache_create(mha_context* ctx, int64_t batch, int64_t num_kv_heads,
                                       int64_t capacity, int64_t head_dim, mha_dtype dtype,
                                       mha_kv_cache** out);
MHA_API void mha_kv_cache_destroy(mha_kv_cache* cache);

/* Row b's cached tokens; -1 when cache is NULL or b is out of range. */
MHA_API int64_t mha_kv_cache_length(const mha_kv_cache* cache, int64_t b);

/* Sets every row's length to 0. */
MHA_API void mha_kv_cache_reset(mha_kv_cache* cache);

/* Rolls row b back to `length` tokens (0 <= length <= its current length). */
MHA_API mha_status mha_kv_cache_truncate(mha_kv_cache* cache, int64_t b, int64_t length);

/* Views of the cache's whole storage, [batch, capacity, num_kv_heads, head_dim], for
 * mha_attention to read in place (with kv_lens = the lengths). Either may be NULL. */
MHA_API mha_status mha_kv_cache_views(const mha_kv_cache* cache, mha_tensor* k, mha_tensor* v);

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
