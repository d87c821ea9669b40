"""Boxes drawn on an image: one colour per class, the class name and score above each box."""
from __future__ import annotations

import cv2
import numpy as np


def class_color(class_id: int) -> tuple[int, int, int]:
    """A fixed BGR colour per class, far enough apart for neighbouring ids to read differently."""
    return ((37 * class_id) % 255, (97 * class_id + 80) % 255, (173 * class_id + 40) % 255)


def draw_detections(image: np.ndarray, dets: np.ndarray, names: list[str]) -> np.ndarray:
    """image: BGR (H, W, 3) uint8, drawn on in place and returned; dets: (N, 6) x1,y1,x2,y2,score,class pixels."""
    for x1, y1, x2, y2, score, cls in dets.tolist():
        color = class_color(int(cls))
        cv2.rectangle(image, (int(x1), int(y1)), (int(x2), int(y2)), color, 2)
        label = f"{names[int(cls)] if int(cls) < len(names) else int(cls)} {score:.2f}"
        cv2.putText(image, label, (int(x1), max(int(y1) - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    return image
