"""Benchmark one model on this machine and keep the figures next to this script.

    python benchmarks/bench_model.py model=n imgsz=416 batch=16

Same as `turboyolo bench model=...` (the real trainer, see turboyolo/perf/model_bench.py); the JSON
goes to benchmarks/results/bench_model_<model>_<imgsz>_<host>.json unless out= is given.
"""
from __future__ import annotations

import socket
import sys
from pathlib import Path

from turboyolo.cli import main

if __name__ == "__main__":
    words = sys.argv[1:]
    if not any(w.startswith("out=") for w in words):
        keys = dict(w.split("=", 1) for w in words if "=" in w)
        name = f"bench_model_{keys.get('model', 'n')}_{keys.get('imgsz', '416')}_{socket.gethostname()}.json"
        words.append(f"out={Path(__file__).parent / 'results' / name}")
    sys.exit(main(["bench", "model", *words]))
