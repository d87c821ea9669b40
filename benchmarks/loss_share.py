"""The loss's share of a training step, before (the frozen pre-issue-13 loss) and after, bf16 and fp32.

    python benchmarks/loss_share.py            # batch 16, 416 px, 55 boxes/image, model n
    python benchmarks/loss_share.py --batch 4 --imgsz 160 --rounds 3   # a quick look
    python benchmarks/loss_share.py --threads 1 --clock cpu   # on a crowded machine

Per precision and loss: the loss alone (forward + backward on fixed maps), a full training step and
the model-only step (no loss; the maps get a fixed gradient), each the median of --rounds taken in
alternation (turboyolo/perf/loss_share.py). The machine is named in the table; on a shared machine
compare the ratios (share of the step, step/model-only images/s), not the absolute times. Two
shares: the loss alone against the step (steady), and the step's excess over the model-only step
(what training pays, caches included, but the difference of two medians: noisy when the loss is small).
Writes benchmarks/results/loss_share_<host>.json.
"""
from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the frozen old loss lives under tests/

from tests.loss.frozen_loss_v0 import FrozenDetectionLoss  # noqa: E402
from turboyolo.loss import DetectionLoss
from turboyolo.model import build_model
from turboyolo.perf.hardware import machine_key
from turboyolo.perf.loss_share import measure_loss_share
from turboyolo.perf.model_bench import synthetic_targets
from turboyolo.perf.report import print_table, write_json

PRECISIONS = {"bf16": torch.bfloat16, "fp32": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="n")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--boxes", type=int, default=55, help="boxes per image")
    parser.add_argument("--classes", type=int, default=3, help="BCCD has 3")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--precisions", default="bf16,fp32")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: this process's CPU seconds, for a crowded machine (with --threads 1)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / f"loss_share_{socket.gethostname()}.json"))
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    torch.manual_seed(0)
    model = build_model(args.model, args.classes).to(device).train()
    images = torch.rand(args.batch, 3, args.imgsz, args.imgsz, device=device)
    targets = synthetic_targets(args.batch, torch.device("cpu"), args.classes, boxes_per_image=args.boxes)
    losses = {
        "before": FrozenDetectionLoss(args.classes, model.reg_max, [int(s) for s in model.strides.tolist()]),
        "after": DetectionLoss(model),
    }
    machine = machine_key(device)  # host, processor, torch version, threads
    results = {"machine": machine, "settings": vars(args), "figures": {}}
    rows = []
    for precision in args.precisions.split(","):
        for name, loss_fn in losses.items():
            figures = measure_loss_share(model, loss_fn, images, targets, device, PRECISIONS[precision], args.rounds,
                                         clock=time.process_time if args.clock == "cpu" else time.perf_counter)
            results["figures"][f"{precision}/{name}"] = figures
            rows.append([precision, name, f"{figures['loss_s'] * 1e3:.1f}", f"{figures['loss_alone_share']:.1%}",
                         f"{figures['loss_share']:.1%}",
                         f"{figures['step_images_per_s']:.2f}", f"{figures['model_only_images_per_s']:.2f}",
                         f"{figures['step_images_per_s'] / figures['model_only_images_per_s']:.2f}"])
            print(rows[-1], flush=True)
    print_table(f"loss share: model {args.model}, batch {args.batch}, {args.imgsz} px, {args.boxes} boxes/image, "
                f"{args.classes} classes, median of {args.rounds} alternated rounds, {args.clock} clock; {machine}",
                ["precision", "loss", "loss ms (fwd+bwd)", "loss alone / step", "step - model-only", "step img/s",
                 "model-only img/s",
                 "step / model-only"], rows)
    print(f"wrote {write_json(args.out, results)}")


if __name__ == "__main__":
    main()
