#!/usr/bin/env bash
# CI smoke test of the benchmark report: a --quick report (no peers, tiny timings) from
# an existing build, checked for its tables and figures. mha_bench runs with --verify, so
# a row whose output differs from the reference backend's (say, a causal shape run
# without its causal flag) fails the test. Needs python3 only; plots are
# drawn when matplotlib is importable. Set MHA_TEST_PEERS=1 to include the peers
# (needs numpy and a shared libmha: -DBUILD_SHARED_LIBS=ON).
#
#   tools/test_report.sh [build-dir]     (default: build)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

python=python3
if [[ -x "$root/.venv/bin/python" ]]; then python="$root/.venv/bin/python"; fi
peers=(--no-peers)
if [[ "${MHA_TEST_PEERS:-0}" == 1 ]]; then peers=(); fi

"$python" "$root/tools/report.py" --quick "${peers[@]}" --build "$build" --out-root "$out" \
  --bench-args="--benchmark_min_time=0.01 --verify"

"$python" - "$out" "$root" <<'PY'
import json, pathlib, sys
report = next(pathlib.Path(sys.argv[1]).iterdir())
root = pathlib.Path(sys.argv[2])
readme = (report / "README.md").read_text()
for heading in ("## Machine", "## Ceilings", "## Summary, 1 thread"):
    assert heading in readme, f"README.md lacks {heading!r}"
info = json.loads((report / "data" / "info.json").read_text())
for b in info["backends"]:
    for name, check in b.get("self_check", {}).items():
        assert check.get("ok"), f"mha-info self-check {b['name']} {name}: {check}"
assert "self-check against the reference: " in readme, "README.md lacks the self-check"
bench = json.loads((report / "data" / "bench.json").read_text())
off = [f"{b['name']}: {b['error_message']}" for b in bench["benchmarks"]
       if b.get("error_message", "").startswith("verify:")]
assert not off, "outputs differ from the reference backend's:\n" + "\n".join(off)
runs = [b for b in bench["benchmarks"]
        if not b.get("error_occurred") and not b["name"].startswith("ceilings/")]
assert runs, "no benchmark ran"
for b in runs:
    assert b["GFLOP/s"] > 0 and b["pct_fma_peak"] > 0, b["name"]
    assert b.get("verified") == 1, f"{b['name']} was not verified"
assert any("-causal/" in b["name"] for b in runs), "no causal shape ran"
assert float(bench["context"]["fma_f32_gflops_threads_1"]) > 0
assert any(b["name"].startswith("ceilings/end/") for b in bench["benchmarks"])
meta = json.loads((report / "data" / "meta.json").read_text())
if (root / ".git").exists():
    assert meta.get("source"), "meta.json lacks the commit measured"
    assert f"from commit {meta['source']}" in readme, "README.md does not name the commit"
peers_json = report / "data" / "peers.json"
if peers_json.exists():  # MHA_TEST_PEERS=1
    peers = json.loads(peers_json.read_text())
    for case in peers["cases"]:
        for name, r in case["results"].items():
            if "median_ms" in r:
                assert 1 <= len(r["times_ms"]) <= peers["reps"], (case["shape"], name)
    assert "| reps |" in readme, "README.md lacks the peers' reps column"
print(f"test_report: ok, {len(runs)} benchmarks ran, {report.name}/README.md written")
PY
