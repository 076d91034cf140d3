"""The Python modules behind the programs in tools/: mha's ctypes binding (mha_ctypes),
the model that tools/heads.py and tests/minilm_test.py run on it (minilm), the peer
libraries (peer_runners), and the report's parts (bench_results, report_markdown,
report_plots, progress). The programs import them as `from mhatools import ...`; Python
puts tools/ on the path when it runs a program there.
"""
