"""How far an exported model's output is from PyTorch's, and how far its detections are.

fp32: the decoded outputs on the same letterboxed images must agree to float rounding; beyond the
tolerances below the exporter mistranslated something and the file is not kept (export_cli.py).
int8 cannot agree to rounding, so it is judged by its detections: the share of fp32's that it
finds again (same class, IoU >= 0.5).
"""
from __future__ import annotations

import numpy as np
import torch

from turboyolo.errors import UserError
from turboyolo.ops.boxes import box_iou
from turboyolo.ops.nms import non_max_suppression

# fp32 onnxruntime vs PyTorch differ by float rounding, which grows with the values: measured up to
# 3e-5 of the largest box coordinate (random-weight n model, whose boxes reach 400 px) and < 1e-5 in
# score. The limits leave room for deeper models and other CPUs; a mistranslated op is far above.
BOX_TOLERANCE = 1e-4  # of the largest |coordinate| in the reference output (at least the input side)
SCORE_TOLERANCE = 1e-4
MATCH_IOU = 0.5


class ExportMismatchError(UserError):
    """The exported model's output differs from PyTorch's beyond the tolerances."""


def output_difference(reference: np.ndarray, other: np.ndarray) -> dict:
    """Max abs difference of two decoded outputs (B, A, 4 + nc): boxes in pixels, scores."""
    diff = np.abs(reference.astype(np.float64) - other.astype(np.float64))
    return {"boxes_px": float(diff[..., :4].max()), "scores": float(diff[..., 4:].max())}


def check_fp32(reference: np.ndarray, output: np.ndarray, side: int) -> tuple[dict, dict]:
    """(difference, tolerance) of an fp32 export's output from PyTorch's, both (B, A, 4 + nc) on the same
    (B, 3, side, side) images; raises ExportMismatchError beyond the tolerances."""
    difference = output_difference(reference, output)
    box_scale = max(float(np.abs(reference[..., :4]).max()), side)
    tolerance = {"boxes_px": BOX_TOLERANCE * box_scale, "scores": SCORE_TOLERANCE}
    if difference["boxes_px"] > tolerance["boxes_px"] or difference["scores"] > tolerance["scores"]:
        raise ExportMismatchError(
            f"the ONNX model's output differs from PyTorch's by up to {difference['boxes_px']:.3g} px in boxes and "
            f"{difference['scores']:.3g} in scores (tolerance {tolerance['boxes_px']:.3g} px, "
            f"{tolerance['scores']:.0e}): "
            f"the export is wrong and was not kept; try simplify=false or another opset=")
    return difference, tolerance


def detection_agreement(reference: np.ndarray, other: np.ndarray, conf: float, iou: float) -> tuple[int, int]:
    """(found, total): of the reference's detections after NMS at `conf`, how many `other` has too
    (same class, IoU >= MATCH_IOU). Both (B, A, 4 + nc) decoded outputs of the same images."""
    found = total = 0
    ref_dets = non_max_suppression(torch.from_numpy(reference).float(), conf, iou, 300)
    other_dets = non_max_suppression(torch.from_numpy(other).float(), conf, iou, 300)
    for ref, oth in zip(ref_dets, other_dets):
        total += len(ref)
        if not len(ref) or not len(oth):
            continue
        same_class = ref[:, 5:6] == oth[:, 5].unsqueeze(0)
        overlaps = box_iou(ref[:, :4], oth[:, :4]) * same_class
        found += int((overlaps.max(dim=1).values >= MATCH_IOU).sum())
    return found, total
