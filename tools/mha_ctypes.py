"""ctypes binding of mha's C API (include/mha/mha.h) over numpy arrays.

Arrays are BSHD, [batch, seq, heads, head_dim]; bf16 data is carried in uint16 arrays.
"""
import ctypes
import os

import numpy as np

F32, BF16, F16 = 0, 1, 2


class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int),
                ("dims", ctypes.c_int64 * 4), ("strides", ctypes.c_int64 * 4)]


class AttentionDesc(ctypes.Structure):
    _fields_ = [("scale", ctypes.c_float), ("causal", ctypes.c_int),
                ("window_left", ctypes.c_int64), ("window_right", ctypes.c_int64),
                ("softcap", ctypes.c_float), ("alibi_slopes", ctypes.c_void_p),
                ("bias", ctypes.c_void_p), ("kv_lens", ctypes.c_void_p),
                ("probs", ctypes.c_void_p), ("lse", ctypes.c_void_p)]


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


class Library:
    def __init__(self, path):
        self.lib = ctypes.CDLL(os.path.abspath(path))
        lib = self.lib
        lib.mha_context_create.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.mha_context_destroy.argtypes = [ctypes.c_void_p]
        lib.mha_context_isa.argtypes = [ctypes.c_void_p]
        lib.mha_context_isa.restype = ctypes.c_char_p
        lib.mha_context_set_num_threads.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.mha_attention_desc_init.argtypes = [ctypes.POINTER(AttentionDesc)]
        lib.mha_attention.argtypes = [ctypes.c_void_p] + [ctypes.POINTER(Tensor)] * 4 + [
            ctypes.POINTER(AttentionDesc)]
        lib.mha_backend_count.restype = ctypes.c_int
        lib.mha_backend_name.argtypes = [ctypes.c_int]
        lib.mha_backend_name.restype = ctypes.c_char_p
        lib.mha_backend_available.argtypes = [ctypes.c_char_p]
        lib.mha_last_error.restype = ctypes.c_char_p
        lib.mha_version.restype = ctypes.c_char_p

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
        desc = AttentionDesc()
        self.library.lib.mha_attention_desc_init(ctypes.byref(desc))
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
