"""A scaling model: how fast a data-parallel step is on N devices over M nodes, and why.

Per optimizer step, on each device::

    step_s = compute_s / (N if strong scaling else 1)      # forward + backward + optimizer, no comm
           + exposed_comm_s                                 # allreduce time backward could not hide
           + straggler_s                                    # waiting for the slowest rank

    comm_s        = ring allreduce of the gradients, bucket by bucket:
                    2 (N-1)/N x grad_bytes / bandwidth  +  buckets x 2 (N-1) x latency
                    bandwidth = intra-node bus bandwidth on one node; on several nodes a flat ring
                    crosses every node's network link, so the slower of the two (link_gbps / 8)
    exposed_comm  = max(last bucket's allreduce, comm_s - overlap x backward_s)
                    (DDP starts a bucket's allreduce as soon as its gradients are ready, so
                    communication hides behind the rest of backward, except the last bucket)
    straggler_s   = compute_s x jitter_cv x E[max of N standard normals]
                    (each step waits for the slowest of N ranks whose step times vary with
                    coefficient of variation jitter_cv; 0 = identical ranks)

    efficiency = single-device step_s / step_s (weak: same per-device batch) and
    speedup = N x efficiency (throughput ratio).

Validation (``validate_yolov5l``): the published YOLOv5l COCO epoch times on 1/2/4/8 A100 (batch 16
per GPU; Ultralytics YOLOv5 multi-GPU tutorial) give speedups 1.76x / 3.47x / 6.56x. Assumptions,
stated so they can be checked: compute_s = the published 1-GPU epoch time / steps per epoch
(1239 s / 7393 = 0.168 s); 46.5 M parameters -> fp32 gradients 186 MB; NVLink intra-node NCCL
bus bandwidth 230 GB/s (nccl-tests figure for DGX A100); 10 us per ring hop; 25 MiB buckets.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from turboyolo.config import default_of

MIB = 2**20

# Published YOLOv5l COCO train2017 epoch times (s) on N x A100, batch 16 per GPU.
YOLOV5L_A100_EPOCH_S = {1: 20 * 60 + 39, 2: 11 * 60 + 43, 4: 5 * 60 + 57, 8: 3 * 60 + 9}
YOLOV5L_PUBLISHED_SPEEDUP = {2: 1.76, 4: 3.47, 8: 6.56}
COCO_TRAIN_IMAGES = 118_287
YOLOV5L_PARAMS = 46.5e6
A100_NVLINK_BUSBW = 230e9  # bytes/s


@dataclass(frozen=True)
class StepProfile:
    """What one device does per step, measured on one device.

    compute_s: forward + backward + optimizer seconds per step at `images_per_step` per device.
    grad_bytes: bytes allreduced per step (fp32 gradients: 4 x parameters).
    backward_fraction: share of compute_s spent in backward (the window comm can hide behind).
    overlap: 0..1, how much of that window the buckets can actually use.
    """

    compute_s: float
    grad_bytes: float
    images_per_step: int = default_of("batch")
    backward_fraction: float = 2.0 / 3.0
    overlap: float = 1.0
    bucket_bytes: float = default_of("bucket_cap_mb") * MIB
    jitter_cv: float = 0.0


@dataclass(frozen=True)
class Links:
    """intra_bytes_per_s: allreduce bus bandwidth inside a node; inter_bytes_per_s: one node's network link."""

    intra_bytes_per_s: float = A100_NVLINK_BUSBW
    inter_bytes_per_s: float = 100e9 / 8
    intra_latency_s: float = 10e-6
    inter_latency_s: float = 20e-6

    @classmethod
    def from_gbps(cls, link_gbps: float, intra_bytes_per_s: float = A100_NVLINK_BUSBW) -> "Links":
        return cls(intra_bytes_per_s=intra_bytes_per_s, inter_bytes_per_s=link_gbps * 1e9 / 8)


def expected_max_standard_normal(n: int) -> float:
    """E[max of n iid N(0,1)] (0 for n=1; 0.564 for 2; 1.029 for 4; 1.424 for 8), by quadrature."""
    if n <= 1:
        return 0.0
    step = 0.005
    total = 0.0
    for i in range(-2000, 2001):
        x = i * step
        pdf = math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        cdf = 0.5 * (1 + math.erf(x / math.sqrt(2)))
        total += x * n * pdf * cdf ** (n - 1) * step
    return total


def ring_allreduce_s(num_bytes: float, devices: int, bandwidth: float, latency_s: float) -> float:
    """Seconds for one ring allreduce: 2(N-1)/N x bytes / bandwidth + 2(N-1) hops x latency."""
    if devices <= 1 or num_bytes <= 0:
        return 0.0
    return 2 * (devices - 1) / devices * num_bytes / bandwidth + 2 * (devices - 1) * latency_s


def predict_step(profile: StepProfile, devices: int, nodes: int = 1, links: Links = Links(), strong: bool = False) -> dict:
    """One row of the table: step time, its parts (seconds), efficiency and speedup vs 1 device."""
    multi_node = nodes > 1
    bandwidth = min(links.intra_bytes_per_s, links.inter_bytes_per_s) if multi_node else links.intra_bytes_per_s
    latency = links.inter_latency_s if multi_node else links.intra_latency_s
    buckets = max(1, math.ceil(profile.grad_bytes / profile.bucket_bytes))
    comm_s = ring_allreduce_s(profile.grad_bytes, devices, bandwidth, latency)
    comm_s += (buckets - 1) * 2 * (devices - 1) * latency if devices > 1 else 0.0
    compute_s = profile.compute_s / devices if strong else profile.compute_s
    last_bucket_s = ring_allreduce_s(min(profile.bucket_bytes, profile.grad_bytes), devices, bandwidth, latency)
    hidden_window = profile.overlap * profile.backward_fraction * compute_s
    exposed_s = max(last_bucket_s, comm_s - hidden_window) if devices > 1 else 0.0
    straggler_s = compute_s * profile.jitter_cv * expected_max_standard_normal(devices)
    step_s = compute_s + exposed_s + straggler_s
    images = profile.images_per_step * (1 if strong else devices)
    single_images_per_s = profile.images_per_step / profile.compute_s
    images_per_s = images / step_s
    speedup = images_per_s / single_images_per_s
    return {
        "devices": devices, "nodes": nodes, "compute_s": compute_s, "comm_s": comm_s, "exposed_comm_s": exposed_s,
        "straggler_s": straggler_s, "step_s": step_s, "images_per_s": images_per_s,
        "speedup": speedup, "efficiency": speedup / devices,
    }


def predict_table(profile: StepProfile, gpus: int, nodes: int, links: Links, strong: bool = False) -> list[dict]:
    """Rows for 1, 2, 4, ... up to `gpus` devices spread over up to `nodes` nodes (gpus/nodes per node)."""
    per_node = max(1, math.ceil(gpus / nodes))
    counts = sorted({2**k for k in range(int(math.log2(gpus)) + 1)} | {gpus})
    return [predict_step(profile, n, max(1, math.ceil(n / per_node)), links, strong) for n in counts]


def yolov5l_profile(jitter_cv: float = 0.0) -> StepProfile:
    """The published YOLOv5l 1xA100 run as a StepProfile (assumptions in the module docstring)."""
    steps = math.ceil(COCO_TRAIN_IMAGES / 16)
    return StepProfile(compute_s=YOLOV5L_A100_EPOCH_S[1] / steps, grad_bytes=4 * YOLOV5L_PARAMS,
                       images_per_step=16, bucket_bytes=25 * MIB, jitter_cv=jitter_cv)  # as published, not our defaults


def calibrate_jitter(profile: StepProfile, devices: int, measured_speedup: float, links: Links) -> float:
    """The jitter_cv that makes the model hit one measured speedup (bisection; 0 if comm alone explains it)."""
    low, high = 0.0, 2.0
    if predict_step(profile, devices, 1, links)["speedup"] <= measured_speedup:
        return 0.0
    for _ in range(60):
        mid = (low + high) / 2
        if predict_step(replace(profile, jitter_cv=mid), devices, 1, links)["speedup"] > measured_speedup:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def validate_yolov5l() -> dict:
    """Predicted vs published YOLOv5l speedups on 8xA100: communication alone, then with a straggler
    term calibrated on the 8-GPU point and checked on the 2- and 4-GPU points (held out).

    Returns {"rows": [{devices, published, comm_only, with_stragglers, comm_only_error, ...}],
             "jitter_cv": fitted cv, "assumptions": text}. Errors are relative: predicted/published - 1.
    """
    links = Links()
    comm_only = yolov5l_profile()
    cv = calibrate_jitter(comm_only, 8, YOLOV5L_PUBLISHED_SPEEDUP[8], links)
    with_jitter = replace(comm_only, jitter_cv=cv)
    rows = []
    for devices, published in YOLOV5L_PUBLISHED_SPEEDUP.items():
        a = predict_step(comm_only, devices, 1, links)
        b = predict_step(with_jitter, devices, 1, links)
        rows.append({
            "devices": devices, "published": published,
            "comm_only": a["speedup"], "comm_only_error": a["speedup"] / published - 1,
            "exposed_comm_ms": 1e3 * a["exposed_comm_s"],
            "with_stragglers": b["speedup"], "with_stragglers_error": b["speedup"] / published - 1,
        })
    return {
        "rows": rows, "jitter_cv": cv,
        "assumptions": (f"compute {1e3 * comm_only.compute_s:.0f} ms/step (1239 s / 7393 steps, batch 16), "
                        f"grads {comm_only.grad_bytes / 1e6:.0f} MB fp32, NVLink busbw {A100_NVLINK_BUSBW / 1e9:.0f} GB/s, "
                        "10 us/hop, 25 MiB buckets, backward 2/3 of compute, full overlap"),
    }
