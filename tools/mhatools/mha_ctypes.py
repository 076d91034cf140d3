"""ctypes binding of mha's C API (include/mha/mha.h) over numpy arrays.

Attention's arrays are BSHD, [batch, seq, heads, head_dim]; the layer's are [batch, seq,
features]. bf16 data is carried in uint16 arrays.
"""
import ctypes
import os

import numpy as np

F32, BF16, F16 = 0, 1, 2


class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int),
                ("dims", ctypes.c_int64 * 4), ("strides", ctypes.c_int64 * 4)]


# The option structs begin with struct_size; Library.init fills one with its defaults.
class AttentionDesc(ctypes.Structure):
    INIT = "mha_attention_desc_init_size"
    _fields_ = [("struct_size", ctypes.c_size_t), ("scale", ctypes.c_float), ("causal", ctypes.c_int),
                ("window_left", ctypes.c_int64), ("window_right", ctypes.c_int64),
                ("softcap", ctypes.c_float), ("alibi_slopes", ctypes.c_void_p),
                ("bias", ctypes.c_void_p), ("kv_lens", ctypes.c_void_p),
                ("probs", ctypes.c_void_p), ("lse", ctypes.c_void_p),
                ("q_lens", ctypes.c_void_p)]


class LayerDesc(ctypes.Structure):  # mha_layer_desc, field by field and in order
    INIT = "mha_layer_desc_init_size"
    _fields_ = [("struct_size", ctypes.c_size_t), ("d_model", ctypes.c_int64), ("kv_d_model", ctypes.c_int64),
                ("num_heads", ctypes.c_int64), ("num_kv_heads", ctypes.c_int64),
                ("head_dim", ctypes.c_int64), ("weight_dtype", ctypes.c_int),
                ("in_proj_weight", ctypes.c_void_p), ("wq", ctypes.c_void_p),
                ("wk", ctypes.c_void_p), ("wv", ctypes.c_void_p), ("wo", ctypes.c_void_p),
                ("in_proj_bias", ctypes.c_void_p), ("bq", ctypes.c_void_p),
                ("bk", ctypes.c_void_p), ("bv", ctypes.c_void_p), ("bo", ctypes.c_void_p),
                ("scale", ctypes.c_float), ("causal", ctypes.c_int),
                ("window_left", ctypes.c_int64), ("window_right", ctypes.c_int64),
                ("softcap", ctypes.c_float), ("alibi_slopes", ctypes.c_void_p),
                ("rope", ctypes.c_int), ("rope_dims", ctypes.c_int64),
                ("rope_theta", ctypes.c_float), ("activation_dtype", ctypes.c_int)]


class LayerOptions(ctypes.Structure):  # mha_layer_options
    INIT = "mha_layer_options_init_size"
    _fields_ = [("struct_size", ctypes.c_size_t), ("q_lens", ctypes.c_void_p), ("kv_lens", ctypes.c_void_p),
                ("attn_mask", ctypes.c_void_p), ("probs", ctypes.c_void_p),
                ("lse", ctypes.c_void_p), ("position_offset", ctypes.c_int64)]


class MhaError(RuntimeError):
    pass


def bf16_from_f32(x):
    """Rounds float32 to bf16 (nearest even), returned as uint16."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def f32_from_bf16(x):
    return (x.astype(np.uint32) << 16).view(np.float32)


def _tensor(array, dtype):
    itemsize = array.itemsize
    t = Tensor(array.ctypes.data, dtype)
    t.dims[:] = array.shape
    t.strides[:] = [s // itemsize for s in array.strides]
    return t


def rows_tensor(array, dtype):
    """The {B, L, 1, features} view the layer takes of a [B, L, features] array."""
    batch, length, features = array.shape
    return _tensor(array.reshape(batch, length, 1, features), dtype)


class Library:
    def __init__(self, path):
        self.lib = ctypes.CDLL(os.path.abspath(path))
        lib = self.lib
        lib.mha_context_create.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.mha_context_destroy.argtypes = [ctypes.c_void_p]
        lib.mha_context_isa.argtypes = [ctypes.c_void_p]
        lib.mha_context_isa.restype = ctypes.c_char_p
        lib.mha_context_set_num_threads.argtypes = [ctypes.c_void_p, ctypes.c_int]
        for struct in (AttentionDesc, LayerDesc, LayerOptions):
            getattr(lib, struct.INIT).argtypes = [ctypes.POINTER(struct), ctypes.c_size_t]
        lib.mha_attention.argtypes = [ctypes.c_void_p] + [ctypes.POINTER(Tensor)] * 4 + [
            ctypes.POINTER(AttentionDesc)]
        lib.mha_layer_create.argtypes = [ctypes.c_void_p, ctypes.POINTER(LayerDesc),
                                         ctypes.POINTER(ctypes.c_void_p)]
        lib.mha_layer_destroy.argtypes = [ctypes.c_void_p]
        lib.mha_layer_forward.argtypes = [ctypes.c_void_p, ctypes.POINTER(Tensor),
                                          ctypes.c_void_p, ctypes.POINTER(Tensor),
                                          ctypes.POINTER(LayerOptions), ctypes.c_void_p]
        i64, handle = ctypes.c_int64, ctypes.POINTER(ctypes.c_void_p)
        lib.mha_kv_cache_create.argtypes = [ctypes.c_void_p, i64, i64, i64, i64, ctypes.c_int,
                                            handle]
        lib.mha_kv_cache_destroy.argtypes = [ctypes.c_void_p]
        lib.mha_kv_cache_truncate.argtypes = [ctypes.c_void_p, i64, i64]
        lib.mha_kv_cache_views.argtypes = [ctypes.c_void_p, ctypes.POINTER(Tensor),
                                           ctypes.POINTER(Tensor)]
        lib.mha_backend_count.restype = ctypes.c_int
        lib.mha_backend_name.argtypes = [ctypes.c_int]
        lib.mha_backend_name.restype = ctypes.c_char_p
        lib.mha_backend_available.argtypes = [ctypes.c_char_p]
        lib.mha_last_error.restype = ctypes.c_char_p
        lib.mha_version.restype = ctypes.c_char_p

    def init(self, struct):
        """Fills an option struct with its defaults, as its C init function does."""
        getattr(self.lib, struct.INIT)(ctypes.byref(struct), ctypes.sizeof(struct))
        return struct

    def last_error(self):
        return self.lib.mha_last_error().decode()

    def backends(self):
        return [self.lib.mha_backend_name(i).decode()
                for i in range(self.lib.mha_backend_count())]

    def available(self, name):
        return bool(self.lib.mha_backend_available(name.encode()))

    def context(self, backend, threads):
        return Context(self, backend, threads)


class Context:
    def __init__(self, library, backend, threads):
        self.library = library
        self.handle = ctypes.c_void_p()
        lib = library.lib
        if lib.mha_context_create(backend.encode(), ctypes.byref(self.handle)) != 0:
            raise MhaError(library.last_error())
        lib.mha_context_set_num_threads(self.handle, threads)
        self.backend = backend
        self.isa = lib.mha_context_isa(self.handle).decode()

    def __del__(self):
        if self.handle:
            self.library.lib.mha_context_destroy(self.handle)

    def attention_fn(self, q, k, v, out, causal, dtypes, probs=None):
        """Returns a no-argument callable that computes out = attention(q, k, v), and the
        attention weights into probs (f32 [B, Hq, Lq, Lk]) when given."""
        q_dtype, kv_dtype, out_dtype = dtypes
        tensors = [_tensor(q, q_dtype), _tensor(k, kv_dtype), _tensor(v, kv_dtype),
                   _tensor(out, out_dtype)]
        desc = self.library.init(AttentionDesc())
        desc.causal = int(causal)
        args = [self.handle] + [ctypes.byref(t) for t in tensors] + [ctypes.byref(desc)]
        probs_tensor = None if probs is None else _tensor(probs, F32)
        if probs_tensor is not None:
            desc.probs = ctypes.addressof(probs_tensor)
        call = self.library.lib.mha_attention

        def run(keep=probs_tensor):  # keep: desc.probs points into it
            if call(*args) != 0:
                raise MhaError(self.library.last_error())
        return run


class Layer:
    """A self-attention mha_layer with f32 weights in nn.Linear layout ([out, in]) and f32
    biases: wq, bq, wk, bk, wv, bv, wo, bo. The layer packs its own copy at create."""

    def __init__(self, context, num_heads, **weights):
        self.context = context  # destroyed after the layer
        self.handle = ctypes.c_void_p()
        lib = context.library.lib
        arrays = {name: np.ascontiguousarray(a, dtype=np.float32)
                  for name, a in weights.items()}
        desc = context.library.init(LayerDesc())
        desc.d_model = arrays["wo"].shape[0]
        desc.num_heads = num_heads
        desc.weight_dtype = F32
        for name, a in arrays.items():
            setattr(desc, name, a.ctypes.data)
        self.heads = num_heads
        if lib.mha_layer_create(context.handle, ctypes.byref(desc), ctypes.byref(self.handle)):
            raise MhaError(context.library.last_error())

    def __del__(self):
        if self.handle:
            self.context.library.lib.mha_layer_destroy(self.handle)

    def forward(self, x, lens=None):
        """x: f32 [B, L, d_model]; lens: [B] real tokens per row (right padding), or None.
        Returns out [B, L, d_model] (padded rows zero) and probs [B, heads, L, L]."""
        batch, length, _ = x.shape
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.empty_like(x)
        probs = np.empty((batch, self.heads, length, length), np.float32)
        x_view, out_view = (rows_tensor(a, F32) for a in (x, out))
        probs_view = _tensor(probs, F32)
        options = self.context.library.init(LayerOptions())
        lib = self.context.library.lib
        options.probs = ctypes.addressof(probs_view)
        if lens is not None:
            # Self-attention without a cache: the queries and the keys are the same tokens.
            lens = np.ascontiguousarray(lens, dtype=np.int32)
            options.q_lens = options.kv_lens = lens.ctypes.data
        if lib.mha_layer_forward(self.handle, ctypes.byref(x_view), None,
                                 ctypes.byref(out_view), ctypes.byref(options), None):
            raise MhaError(self.context.library.last_error())
        return out, probs
