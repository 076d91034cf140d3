"""Peer libraries that compute the same attention as mha, each behind one interface.

A peer class is constructed with a thread count (raising Unavailable with a one-line
reason when its package is missing) and prepares one problem with
prepare(shape, dtype, q, k, v), where q [B, Lq, Hq, D], k and v [B, Lk, Hkv, D] are
float32 BSHD arrays (for "bf16", values already rounded to bf16). It returns a
no-argument callable that runs the peer once and returns its output as float32 BSHD,
or raises Skip with the reason the peer cannot run that problem. The layer peers, at
the end, prepare whole attention layers instead.
"""
import math

import numpy as np


class Unavailable(Exception):
    pass


class Skip(Exception):
    pass


def _scores_bytes(shape):
    return 4 * shape["batch"] * shape["num_heads"] * shape["q_len"] * shape["kv_len"]


def _require_scores_fit(shape, limit=2 << 30):
    if _scores_bytes(shape) > limit:
        raise Skip(f"materialises {_scores_bytes(shape) / 2**30:.1f} GiB of scores")


class TorchBase:
    def __init__(self, threads):
        try:
            import torch
        except ImportError as e:
            raise Unavailable(f"torch not installed ({e}); run.sh --with-torch adds it")
        torch.set_num_threads(threads)
        self.torch = torch

    def _inputs(self, dtype, q, k, v):
        torch = self.torch
        tdtype = torch.bfloat16 if dtype == "bf16" else torch.float32
        # BSHD -> BHSD as strided views, as a user holding BSHD buffers would pass them.
        return [torch.from_numpy(x).to(tdtype).permute(0, 2, 1, 3) for x in (q, k, v)]

    @staticmethod
    def _output(o):
        return o.permute(0, 2, 1, 3).float().contiguous().numpy()


class TorchSdpa(TorchBase):
    name = "torch-sdpa"

    def prepare(self, shape, dtype, q, k, v):
        torch = self.torch
        qt, kt, vt = self._inputs(dtype, q, k, v)
        group = shape["num_heads"] // shape["num_kv_heads"]
        causal = shape["causal"]
        sdpa = torch.nn.functional.scaled_dot_product_attention
        try:
            sdpa(qt[:, :1, :1], kt[:, :1, :1], vt[:, :1, :1], enable_gqa=False)
            gqa_kwargs = {"enable_gqa": group > 1}
        except TypeError:
            if group > 1:
                kt = kt.repeat_interleave(group, dim=1)
                vt = vt.repeat_interleave(group, dim=1)
            gqa_kwargs = {}

        def run():
            with torch.inference_mode():
                return self._output(sdpa(qt, kt, vt, is_causal=causal, **gqa_kwargs))
        return run


class TorchManual(TorchBase):
    name = "torch-manual"

    def prepare(self, shape, dtype, q, k, v):
        _require_scores_fit(shape)
        torch = self.torch
        qt, kt, vt = self._inputs(dtype, q, k, v)
        group = shape["num_heads"] // shape["num_kv_heads"]
        scale = 1.0 / math.sqrt(shape["head_dim"])
        lq, lk = shape["q_len"], shape["kv_len"]
        mask = None
        if shape["causal"]:  # bottom-right aligned, as mha
            mask = torch.ones(lq, lk, dtype=torch.bool).tril(diagonal=lk - lq).logical_not()

        def run():
            with torch.inference_mode():
                kk = kt.repeat_interleave(group, dim=1) if group > 1 else kt
                vv = vt.repeat_interleave(group, dim=1) if group > 1 else vt
                s = torch.matmul(qt, kk.transpose(-1, -2)) * scale
                if mask is not None:
                    s = s.masked_fill(mask, float("-inf"))
                return self._output(torch.matmul(torch.softmax(s, dim=-1), vv))
        return run


class OrtBase:
    def __init__(self, threads):
        try:
            import onnx
            import onnxruntime
        except ImportError as e:
            raise Unavailable(f"onnxruntime/onnx not installed ({e})")
        self.onnx, self.ort, self.threads = onnx, onnxruntime, threads

    def _session(self, nodes, inputs, outputs):
        helper, tp = self.onnx.helper, self.onnx.TensorProto
        graph = helper.make_graph(
            nodes, "attention",
            [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
            [helper.make_tensor_value_info(n, tp.FLOAT, None) for n in outputs])
        model = helper.make_model(graph, opset_imports=[
            helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
        model.ir_version = min(model.ir_version, 10)  # onnxruntime lags onnx's newest IR
        options = self.ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # ORT's workers spin after each run by default; in one process with the other
        # runners they would take a core from whichever runs next.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return self.ort.InferenceSession(model.SerializeToString(), options,
                                         providers=["CPUExecutionProvider"])


class OrtMultiHeadAttention(OrtBase):
    name = "ort-mha"

    def prepare(self, shape, dtype, q, k, v):
        if dtype != "f32":
            raise Skip("CPU MultiHeadAttention is f32 only")
        if shape["num_kv_heads"] != shape["num_heads"]:
            raise Skip("no grouped K/V heads (ort-gqa covers them)")
        if shape["causal"]:
            raise Skip("non-causal op (ort-gqa covers causal)")
        _require_scores_fit(shape)
        b, lq, h, d = q.shape
        lk = k.shape[1]
        f = self.onnx.TensorProto.FLOAT
        node = self.onnx.helper.make_node(
            "MultiHeadAttention", ["query", "key", "value"], ["out"],
            domain="com.microsoft", num_heads=h)
        session = self._session([node], [("query", f, [b, lq, h * d]),
                                          ("key", f, [b, lk, h * d]),
                                          ("value", f, [b, lk, h * d])], ["out"])
        feeds = {"query": q.reshape(b, lq, h * d), "key": k.reshape(b, lk, h * d),
                 "value": v.reshape(b, lk, h * d)}

        def run():
            return session.run(["out"], feeds)[0].reshape(b, lq, h, d)
        return run


class OrtGroupQueryAttention(OrtBase):
    name = "ort-gqa"

    def prepare(self, shape, dtype, q, k, v):
        if dtype != "f32":
            raise Skip("run in f32 only here")
        lq, lk = shape["q_len"], shape["kv_len"]
        if not shape["causal"] and lq > 1:
            raise Skip("causal-only op")
        b, _, h, d = q.shape
        hkv = k.shape[2]
        past = lk - lq
        f, i32 = self.onnx.TensorProto.FLOAT, self.onnx.TensorProto.INT32
        names = ["query", "key", "value", "past_key" if past else "",
                 "past_value" if past else "", "seqlens_k", "total_sequence_length"]
        node = self.onnx.helper.make_node(
            "GroupQueryAttention", names, ["out", "present_key", "present_value"],
            domain="com.microsoft", num_heads=h, kv_num_heads=hkv)
        inputs = [("query", f, [b, lq, h * d]), ("key", f, [b, lq, hkv * d]),
                  ("value", f, [b, lq, hkv * d])]
        feeds = {"query": q.reshape(b, lq, h * d),
                 "key": np.ascontiguousarray(k[:, past:]).reshape(b, lq, hkv * d),
                 "value": np.ascontiguousarray(v[:, past:]).reshape(b, lq, hkv * d),
                 "seqlens_k": np.full([b], lk - 1, dtype=np.int32),
                 "total_sequence_length": np.array([lk], dtype=np.int32)}
        if past:  # the cache in ORT's BNSD layout, converted outside the timed call
            inputs += [("past_key", f, [b, hkv, past, d]), ("past_value", f, [b, hkv, past, d])]
            feeds["past_key"] = np.ascontiguousarray(k[:, :past].transpose(0, 2, 1, 3))
            feeds["past_value"] = np.ascontiguousarray(v[:, :past].transpose(0, 2, 1, 3))
        inputs += [("seqlens_k", i32, [b]), ("total_sequence_length", i32, [1])]
        session = self._session([node], inputs, ["out", "present_key", "present_value"])

        def run():
            return session.run(["out"], feeds)[0].reshape(b, lq, h, d)
        return run


class OpenVinoSdpa:
    name = "openvino-sdpa"

    def __init__(self, threads):
        try:
            import openvino as ov
            try:
                import openvino.opset13 as ops
            except ImportError:
                import openvino.runtime.opset13 as ops
        except ImportError as e:
            raise Unavailable(f"openvino not installed ({e})")
        self.ov, self.ops, self.threads = ov, ops, threads
        self.core = ov.Core()

    def prepare(self, shape, dtype, q, k, v):
        if dtype != "f32":
            raise Skip("run in f32 only here")
        ops = self.ops
        b, lq, h, d = q.shape
        lk, hkv = k.shape[1], k.shape[2]
        group = h // hkv
        params = [ops.parameter(list(x.shape), np.float32) for x in (q, k, v)]
        qt, kt, vt = [ops.transpose(p, [0, 2, 1, 3]) for p in params]
        if group > 1:  # the broadcast pattern OpenVINO fuses for GQA models
            def expand(x):
                x = ops.unsqueeze(x, [2])
                x = ops.broadcast(x, np.array([b, hkv, group, lk, d], dtype=np.int64))
                return ops.reshape(x, np.array([b, h, lk, d], dtype=np.int64), False)
            kt, vt = expand(kt), expand(vt)
        out = ops.scaled_dot_product_attention(qt, kt, vt, causal=shape["causal"])
        out = ops.transpose(out, [0, 2, 1, 3])
        model = self.ov.Model([out], params, "attention")
        compiled = self.core.compile_model(model, "CPU", {
            "INFERENCE_NUM_THREADS": self.threads, "INFERENCE_PRECISION_HINT": "f32"})
        request = compiled.create_infer_request()

        def run():
            request.infer([q, k, v])
            return request.get_output_tensor(0).data
        return run


ALL_PEERS = [TorchSdpa, TorchManual, OrtMultiHeadAttention, OrtGroupQueryAttention,
             OpenVinoSdpa]


# ---- The whole layer --------------------------------------------------------------------
#
# A layer peer prepares one problem with prepare(shape, dtype, weights, x, cache) where
# shape is a layer shape of peers.LAYER_SHAPES, weights a dict of float32 arrays in
# nn.Linear's layout (wq, wk, wv, wo, and bq, bk, bv, bo or None; for "bf16" rounded to
# bf16), x [B, L, d_model] float32, and cache, for decode shapes, the (k, v) already
# cached, each [B, kv_len - 1, Hkv, D]. run() returns the output [B, L, E] as float32
# or as the peer's own tensor (peers.as_f32 converts it, outside the timed calls).


class TorchMultiheadAttentionLayer(TorchBase):
    """nn.MultiheadAttention(batch_first=True) under inference_mode: its fused fast path
    (torch._native_multi_head_attention) for self-attention without weights."""
    name = "torch-nn-mha"

    def prepare(self, shape, dtype, weights, x, cache):
        if not shape["packed"]:
            raise Skip("nn.MultiheadAttention runs the bert-like layers")
        torch = self.torch
        tdtype = torch.bfloat16 if dtype == "bf16" else torch.float32
        e, h = shape["d_model"], shape["heads"]
        module = torch.nn.MultiheadAttention(e, h, batch_first=True).eval()
        with torch.no_grad():
            module.in_proj_weight.copy_(torch.from_numpy(
                np.concatenate([weights["wq"], weights["wk"], weights["wv"]])))
            module.in_proj_bias.copy_(torch.from_numpy(
                np.concatenate([weights["bq"], weights["bk"], weights["bv"]])))
            module.out_proj.weight.copy_(torch.from_numpy(weights["wo"]))
            module.out_proj.bias.copy_(torch.from_numpy(weights["bo"]))
        module = module.to(tdtype)
        xt = torch.from_numpy(x).to(tdtype)

        def run():
            with torch.inference_mode():
                return module(xt, xt, xt, need_weights=False)[0]
        return run


class TorchLlamaLayer(TorchBase):
    """A LLaMA attention block: q/k/v/o nn.Linear without bias, RoPE (NeoX's
    rotate_half), scaled_dot_product_attention with GQA, and for decode a static cache
    [B, Hkv, kv_len, D] written in place at the new position (as transformers'
    StaticCache). The cos/sin tables are computed once, outside the timed call."""
    name = "torch-llama-sdpa"

    def prepare(self, shape, dtype, weights, x, cache):
        if shape["packed"]:
            raise Skip("the LLaMA block runs the llama-like layers")
        torch = self.torch
        nn, sdpa = torch.nn, torch.nn.functional.scaled_dot_product_attention
        tdtype = torch.bfloat16 if dtype == "bf16" else torch.float32
        b, lnew, e = x.shape
        hq, hkv, d = shape["heads"], shape["kv_heads"], shape["head_dim"]
        proj = {}
        for name in ("wq", "wk", "wv", "wo"):
            w = torch.from_numpy(weights[name])
            proj[name] = nn.Linear(w.shape[1], w.shape[0], bias=False, dtype=tdtype).eval()
            with torch.no_grad():
                proj[name].weight.copy_(w)
        past = shape["kv_len"] - 1 if shape["kv_len"] else 0
        positions = torch.arange(past, past + lnew, dtype=torch.float64)
        inv_freq = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
        angles = torch.cat([positions[:, None] * inv_freq[None]] * 2, dim=-1)
        cos, sin = angles.cos().to(tdtype), angles.sin().to(tdtype)
        try:
            sdpa(*[torch.zeros(1, 1, 1, 8)] * 3, enable_gqa=False)
            gqa = {"enable_gqa": hq != hkv}
        except TypeError:
            gqa = None
        if past:
            k_cache, v_cache = (torch.zeros(b, hkv, past + lnew, d, dtype=tdtype)
                                for _ in range(2))
            k_cache[:, :, :past] = torch.from_numpy(cache[0]).permute(0, 2, 1, 3)
            v_cache[:, :, :past] = torch.from_numpy(cache[1]).permute(0, 2, 1, 3)
        xt = torch.from_numpy(x).to(tdtype)

        def rope(t):
            half = t.shape[-1] // 2
            rotated = torch.cat([-t[..., half:], t[..., :half]], dim=-1)
            return t * cos + rotated * sin

        def attend(q, k, v, causal):
            if gqa is None and hq != hkv:
                k = k.repeat_interleave(hq // hkv, dim=1)
                v = v.repeat_interleave(hq // hkv, dim=1)
            return sdpa(q, k, v, is_causal=causal, **(gqa or {}))

        def run():
            with torch.inference_mode():
                q = rope(proj["wq"](xt).view(b, lnew, hq, d).transpose(1, 2))
                k = rope(proj["wk"](xt).view(b, lnew, hkv, d).transpose(1, 2))
                v = proj["wv"](xt).view(b, lnew, hkv, d).transpose(1, 2)
                if past:
                    k_cache[:, :, past:] = k
                    v_cache[:, :, past:] = v
                    o = attend(q, k_cache, v_cache, False)
                else:
                    o = attend(q, k, v, shape["causal"])
                o = o.transpose(1, 2).reshape(b, lnew, hq * d)
                return proj["wo"](o)
        return run


class OrtLayerBase(OrtBase):
    """The bert-like layer (f32) as an ONNX graph whose projections are MatMul nodes
    over constant weights; subclasses give the nodes from x to the heads' outputs."""

    def prepare(self, shape, dtype, weights, x, cache):
        if dtype != "f32":
            raise Skip("CPU attention contrib ops are f32 only")
        if not shape["packed"]:
            raise Skip("runs the bert-like layers (no RoPE, equal heads, not causal)")
        b, lnew, e = x.shape
        constants = {
            "w_in": np.concatenate([weights["wq"], weights["wk"], weights["wv"]]).T,
            "b_in": np.concatenate([weights["bq"], weights["bk"], weights["bv"]]),
            "w_out": weights["wo"].T, "b_out": weights["bo"]}
        helper, numpy_helper = self.onnx.helper, self.onnx.numpy_helper
        nodes = [helper.make_node("Constant", [], [n], value=numpy_helper.from_array(
            np.ascontiguousarray(a), n)) for n, a in constants.items()]
        nodes += self._attention_nodes(shape["heads"], e) + [
            helper.make_node("MatMul", ["heads", "w_out"], ["projected"]),
            helper.make_node("Add", ["projected", "b_out"], ["out"])]
        session = self._session(nodes, [("x", self.onnx.TensorProto.FLOAT, [b, lnew, e])],
                                ["out"])

        def run():
            return session.run(["out"], {"x": x})[0]
        return run


class OrtMultiHeadAttentionLayer(OrtLayerBase):
    """MatMul(x, [Wq; Wk; Wv]^T), Split, com.microsoft.MultiHeadAttention (adding the
    Q/K/V biases), MatMul(Wo^T) and Add."""
    name = "ort-mha-layer"

    def _attention_nodes(self, heads, e):
        helper = self.onnx.helper
        split = self.onnx.numpy_helper.from_array(np.array([e, e, e], np.int64), "split")
        return [helper.make_node("Constant", [], ["split"], value=split),
                helper.make_node("MatMul", ["x", "w_in"], ["qkv"]),
                helper.make_node("Split", ["qkv", "split"], ["q", "k", "v"], axis=2),
                helper.make_node("MultiHeadAttention", ["q", "k", "v", "b_in"], ["heads"],
                                 domain="com.microsoft", num_heads=heads)]


class OrtAttentionLayer(OrtLayerBase):
    """com.microsoft.Attention, which runs the Q/K/V projection itself (the form ORT's
    transformer optimizer gives a BERT layer), then MatMul(Wo^T) and Add."""
    name = "ort-attention-layer"

    def _attention_nodes(self, heads, e):
        return [self.onnx.helper.make_node("Attention", ["x", "w_in", "b_in"], ["heads"],
                                           domain="com.microsoft", num_heads=heads)]


ALL_LAYER_PEERS = [TorchMultiheadAttentionLayer, TorchLlamaLayer, OrtMultiHeadAttentionLayer,
                   OrtAttentionLayer]
