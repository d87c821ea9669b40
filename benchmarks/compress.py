"""The compression report on BCCD: export and int8, structured pruning, distillation, in one run.

    python benchmarks/compress.py --weights runs/bench/bccd/weights/best.pt [--plain runs/bench/bccd]
        [--teacher T.pt] [--parts export,prune,distill]

Runs, in turn, benchmarks/compress_export.py (fp32 PyTorch / fp32 ONNX / int8 PTQ / int8 QAT),
compress_prune_distill.py (pruning ratios 0.3 and 0.5, fine-tuned 10 epochs) and compress_distill.py
(a student n from scratch with and without a teacher); each prints its table and writes its JSON;
this script gathers them into benchmarks/results/compress.json. Parts already run can be skipped
with --parts; their JSON from an earlier run is gathered as it is.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compress_distill  # noqa: E402
import compress_export  # noqa: E402
import compress_prune_distill  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = {"export": "compress_export.json", "prune": "compress_prune_distill.json", "distill": "compress_distill.json"}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True, help="the trained model n (benchmarks/bccd.py writes one)")
    parser.add_argument("--plain", default=None, help="its run folder, reused as the distillation's plain student")
    parser.add_argument("--teacher", default=None, help="a trained teacher (default: compress_distill trains an s)")
    parser.add_argument("--parts", default="export,prune,distill")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"--parts: unknown {sorted(unknown)}; choose from {sorted(PARTS)}")
    if "export" in parts:
        compress_export.main([f"weights={args.weights}", "qat=true"])
    if "prune" in parts:
        compress_prune_distill.main(["--weights", args.weights])
    if "distill" in parts:
        compress_distill.main((["--plain", args.plain] if args.plain else [])
                              + (["--teacher", args.teacher] if args.teacher else []))
    gathered = {part: json.loads((RESULTS / name).read_text()) for part, name in PARTS.items() if (RESULTS / name).exists()}
    (RESULTS / "compress.json").write_text(json.dumps(gathered, indent=1))
    print(f"gathered {sorted(gathered)} into {RESULTS / 'compress.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
