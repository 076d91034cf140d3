"""Reads mha_bench's Google Benchmark JSON into plain records."""
import json


def load(path):
    """Returns (context, records). A record: backend, isa, shape, dtype, threads, and
    either the figures (ms, gflops, pct_peak, kv_gbs, pct_bw, extra_mib) or error."""
    with open(path) as f:
        data = json.load(f)
    records = []
    for b in data.get("benchmarks", []):
        parts = b.get("run_name", b["name"]).split("/")
        if len(parts) == 2 and parts[1] == "unavailable":
            records.append({"backend": parts[0], "isa": "-", "shape": "*", "dtype": "*",
                            "threads": 0, "error": b.get("error_message", "")})
            continue
        backend, isa, shape, dtype, threads = parts[:5]
        r = {"backend": backend, "isa": isa, "shape": shape, "dtype": dtype,
             "threads": int(threads.split(":")[1])}
        if b.get("error_occurred"):
            r["error"] = b.get("error_message", "")
        else:
            scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
            r.update(ms=b["real_time"] * scale, gflops=b.get("GFLOP/s"),
                     pct_peak=b.get("pct_fma_peak"), kv_gbs=b.get("KV_GB/s"),
                     pct_bw=b.get("pct_read_bw"), extra_mib=b.get("extra_MiB"))
        records.append(r)
    return data.get("context", {}), records


def ceilings(context):
    """{threads: {"fma": GFLOP/s, "bf16": GFLOP/s, "read": GB/s}} from the run context."""
    out = {}
    for key, value in context.items():
        for prefix, name in (("fma_f32_gflops_threads_", "fma"),
                             ("dot_bf16_gflops_threads_", "bf16"),
                             ("read_gbs_threads_", "read")):
            if key.startswith(prefix):
                out.setdefault(int(key[len(prefix):]), {})[name] = float(value)
    return dict(sorted(out.items()))


def best_isa(records, backend):
    """The ISA a backend ran at its best level: the first one mha_bench registered."""
    for r in records:
        if r["backend"] == backend and r["isa"] != "-":
            return r["isa"]
    return None
