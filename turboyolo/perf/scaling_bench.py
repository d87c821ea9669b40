"""`turboyolo bench scaling nproc=1,2` (measured) and `bench scaling predict` (modelled).

Measured: the same short training run with 1..N processes launched by torchrun, each process
with 1 torch thread and 0 loader workers (so N processes use N cores and the comparison is
fair on a small CPU), in two variants: the same global batch (per-process batch = batch / N,
strong scaling) and the same per-process batch (global batch = batch x N, weak scaling). The
1-process run and the measured allreduce bandwidth then feed the scaling model, whose prediction
is printed next to each measurement with its error.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from turboyolo.config.schema import load_schema
from turboyolo.perf import scaling
from turboyolo.perf.report import print_table

# Keys the scaling runs set themselves (see module docstring), never forwarded from the caller.
_RUN_KEYS = {"nproc", "threads", "workers", "batch", "out", "device", "project", "name", "exist_ok"}


def forwarded_overrides(cfg) -> list[str]:
    """key=value words for every key that differs from its default (so a torchrun child sees the
    same configuration), minus the keys each scaling run sets itself."""
    words = []
    for name, spec in load_schema().items():
        value = cfg[name]
        if name in _RUN_KEYS or value == spec.default:
            continue
        if isinstance(value, list):
            text = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif value is None:
            text = "null"
        else:
            text = str(value)
        words.append(f"{name}={text}")
    return words


def torchrun_command(nproc: int, mode_words: list[str]) -> list[str]:
    """[python -m torch.distributed.run --standalone --nproc_per_node N -m turboyolo ...] (no shell)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
            "-m", "turboyolo", *mode_words]


def _run_json(command: list[str], out_file: Path, timeout_s: float) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s)
    if completed.returncode != 0 or not out_file.is_file():
        tail = (completed.stdout + completed.stderr)[-3000:]
        raise RuntimeError(f"{' '.join(command[2:8])}... failed (exit {completed.returncode}):\n{tail}")
    return json.loads(out_file.read_text())


def measure_run(cfg, nproc: int, global_batch: int, workdir: Path, timeout_s: float = 1800) -> dict:
    """One torchrun training run; returns the trainer's summary (rank 0) as a dict."""
    out_file = workdir / f"train_n{nproc}_b{global_batch}.json"
    words = ["bench", "train_once", *forwarded_overrides(cfg), f"batch={global_batch}", "threads=1", "workers=0",
             "device=cpu" if cfg.device in (None, "cpu") else f"device={cfg.device}",
             f"project={workdir / 'runs'}", f"name=n{nproc}_b{global_batch}", "exist_ok=true", f"out={out_file}"]
    return _run_json(torchrun_command(nproc, words), out_file, timeout_s)


def measure_allreduce_bandwidth(cfg, nproc: int, workdir: Path) -> dict:
    """`bench hw` under torchrun with `nproc` processes: allreduce of a gradient-sized tensor."""
    out_file = workdir / f"hw_n{nproc}.json"
    words = ["bench", "hw", f"model={cfg.model}", "threads=1", f"out={out_file}"]
    return _run_json(torchrun_command(nproc, words), out_file, 600)


def _params(model_key: str) -> int:
    from turboyolo.model import build_model
    from turboyolo.perf.flops import count_params

    return count_params(build_model(model_key, 80))  # 80 classes: the published model sizes


def run_measured(cfg) -> dict:
    """Measure every nproc in cfg.nproc in both batch variants; print the table; return the figures."""
    with tempfile.TemporaryDirectory(prefix="turboyolo-scaling-") as workdir:  # run folders, worker JSON
        return _run_measured(cfg, Path(workdir))


def _run_measured(cfg, workdir: Path) -> dict:
    counts = sorted(set(cfg.nproc if isinstance(cfg.nproc, list) else [cfg.nproc]))
    print(f"bench scaling: nproc={counts}, global batch {cfg.batch}, imgsz {cfg.imgsz}, model {cfg.model}, "
          f"{cfg.bench_steps} steps per run; 1 torch thread and 0 loader workers per process "
          "(N processes on N cores, a fair comparison on a small CPU)")
    runs = []
    for n in counts:
        variants = [("same global batch", cfg.batch)]
        if n > 1:
            variants.append(("same per-process batch", cfg.batch * n))
        for variant, global_batch in variants:
            if global_batch % n:
                print(f"  skip n={n} {variant}: batch {global_batch} not divisible by {n}")
                continue
            summary = measure_run(cfg, n, global_batch, workdir)
            runs.append({"nproc": n, "variant": variant, "global_batch": global_batch,
                         "per_process_batch": global_batch // n, **_breakdown(summary)})
    base = next((r for r in runs if r["nproc"] == 1), None)
    bandwidth = None
    if base and max(counts) > 1:
        hw = measure_allreduce_bandwidth(cfg, max(counts), workdir)
        bandwidth = hw.get("allreduce_busbw_bytes_per_s")
    _add_predictions(runs, base, bandwidth, _params(cfg.model))
    headers = ["nproc", "variant", "batch/proc", "images/s", "speedup", "efficiency", "predicted", "error",
               "data", "forward", "backward", "optimizer", "other"]
    rows = [[r["nproc"], r["variant"], r["per_process_batch"], r["images_per_s"], r.get("speedup"), r.get("efficiency"),
             r.get("predicted_speedup"),
             f"{100 * r['prediction_error']:+.0f}%" if r.get("prediction_error") is not None else None,
             *(f"{100 * r.get(p + '_share', 0):.0f}%" for p in ("data", "forward", "backward", "optimizer", "other"))]
            for r in runs]
    print_table("measured scaling (speedup = images/s over 1 process; predicted from the 1-process run and the measured "
                "allreduce bandwidth, error = predicted/measured - 1; shares of step wall time)", headers, rows)
    if bandwidth:
        print(f"allreduce bus bandwidth measured with {max(counts)} processes: {bandwidth / 1e9:.2f} GB/s")
    return {"runs": runs, "allreduce_busbw_bytes_per_s": bandwidth, "threads_per_process": 1}


def _breakdown(summary: dict) -> dict:
    wall = sum(float(summary.get(f"{p}_s", 0.0) or 0.0) for p in ("data", "h2d", "forward", "backward", "optimizer", "other"))
    out = {"images_per_s": float(summary.get("images_per_s", 0.0)), "wall_s": wall,
           "data_wait_share": float(summary.get("data_wait_share", 0.0) or 0.0)}
    for phase in ("data", "h2d", "forward", "backward", "optimizer", "other"):
        seconds = float(summary.get(f"{phase}_s", 0.0) or 0.0)
        out[f"{phase}_s"] = seconds
        out[f"{phase}_share"] = seconds / wall if wall > 0 else 0.0
    return out


def _add_predictions(runs: list[dict], base: dict | None, bandwidth: float | None, params: int) -> None:
    """Speedup and efficiency vs the 1-process run; the model's prediction from that run alone."""
    if not base or base["images_per_s"] <= 0:
        return
    base_step_s = base["per_process_batch"] / base["images_per_s"]
    for run in runs:
        n = run["nproc"]
        run["speedup"] = run["images_per_s"] / base["images_per_s"]
        run["efficiency"] = run["speedup"] / n
        if bandwidth and n > 1:
            strong = run["variant"] == "same global batch"
            profile = scaling.StepProfile(compute_s=base_step_s, grad_bytes=4.0 * params,
                                          images_per_step=base["per_process_batch"])
            links = scaling.Links(intra_bytes_per_s=bandwidth, intra_latency_s=50e-6)
            predicted = scaling.predict_step(profile, n, 1, links, strong=strong)
            run["predicted_speedup"] = predicted["speedup"]
            run["prediction_error"] = predicted["speedup"] / run["speedup"] - 1


def run_predict(cfg) -> dict:
    """`bench scaling predict gpus=8 nodes=4 link_gbps=100`: the model's table, plus its YOLOv5l validation."""
    params = _params(cfg.model)
    compute_s = float(cfg.step_s)
    source = "step_s"
    if compute_s <= 0:
        compute_s, source = _measure_step_here(cfg), "measured here"
    profile = scaling.StepProfile(compute_s=compute_s, grad_bytes=4.0 * params, images_per_step=cfg.batch,
                                  bucket_bytes=cfg.bucket_cap_mb * scaling.MIB)
    links = scaling.Links.from_gbps(cfg.link_gbps)
    table = scaling.predict_table(profile, cfg.gpus, cfg.nodes, links)
    print(f"scaling prediction for model {cfg.model}: {params / 1e6:.2f} M params -> {4 * params / 1e6:.1f} MB fp32 gradients; "
          f"compute {1e3 * compute_s:.1f} ms/step at batch {cfg.batch} per device ({source}); "
          f"intra-node busbw {links.intra_bytes_per_s / 1e9:.0f} GB/s (A100 NVLink), inter-node {cfg.link_gbps:g} Gbit/s; "
          f"{cfg.bucket_cap_mb:g} MiB buckets; same per-device batch (weak scaling)")
    print_table("predicted data-parallel scaling", ["GPUs", "nodes", "step ms", "comm ms", "exposed ms", "images/s", "speedup", "efficiency"],
                [[r["devices"], r["nodes"], 1e3 * r["step_s"], 1e3 * r["comm_s"], 1e3 * r["exposed_comm_s"],
                  r["images_per_s"], r["speedup"], r["efficiency"]] for r in table])
    validation = scaling.validate_yolov5l()
    print_table("model check: YOLOv5l on 8xA100, published vs predicted speedup (error = predicted/published - 1)",
                ["GPUs", "published", "comm only", "error", "+stragglers", "error"],
                [[r["devices"], r["published"], r["comm_only"], f"{100 * r['comm_only_error']:+.1f}%",
                  r["with_stragglers"], f"{100 * r['with_stragglers_error']:+.1f}%"] for r in validation["rows"]])
    print(f"assumptions: {validation['assumptions']}; straggler cv {validation['jitter_cv']:.3f} fitted at 8 GPUs, "
          "2 and 4 GPUs held out")
    return {"params": params, "compute_s": compute_s, "compute_source": source, "table": table, "yolov5l_validation": validation}


def _measure_step_here(cfg) -> float:
    """forward + backward + optimizer seconds per step at cfg.batch on this device (median, few steps)."""
    from turboyolo.perf.model_bench import random_input_steps

    quick_cfg = type(cfg)(cfg)
    quick_cfg["bench_steps"] = max(1, min(cfg.bench_steps, 3))
    summary = random_input_steps(quick_cfg)
    return summary["step_s_median"] or summary["step_s"]
