"""What prediction returns for one image: its boxes in original pixels, and how to show or serialise them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Result:
    """boxes: (N, 4) xyxy float32 pixels of orig_img; scores: (N,) float32; classes: (N,) int64 indices into names.

    path is None for an image given as an array; name is the image's name relative to the source
    (the CLI's output file name, unique within one source)."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    names: list[str]
    orig_img: np.ndarray  # BGR (H, W, 3) uint8, as read by OpenCV
    path: Path | None
    name: str

    @classmethod
    def from_detections(cls, dets: np.ndarray, names: list[str], image: np.ndarray, path: Path | None, name: str):
        """dets: (N, 6) x1,y1,x2,y2,score,class as Predictor.predict_batch returns them."""
        dets = np.asarray(dets, dtype=np.float32).reshape(-1, 6)
        return cls(dets[:, :4].copy(), dets[:, 4].copy(), dets[:, 5].astype(np.int64), list(names), image, path, name)

    def __len__(self) -> int:
        return len(self.scores)

    def detections(self) -> list[dict]:
        """One dict per box, the entries of predictions.json: class, name, score, box_xyxy."""
        return [{"class": int(c), "name": self.names[int(c)], "score": round(float(s), 4),
                 "box_xyxy": [round(float(v), 2) for v in box]}
                for box, s, c in zip(self.boxes.tolist(), self.scores.tolist(), self.classes.tolist())]

    def to_json(self) -> str:
        return json.dumps({"image": str(self.path) if self.path else self.name, "detections": self.detections()})

    def plot(self) -> np.ndarray:
        """A copy of the original image with the boxes, class names and scores drawn: BGR (H, W, 3) uint8."""
        from turboyolo.plots.boxes_grid import draw_boxes  # the one box drawing of `show`, training plots, predict

        return draw_boxes(self.orig_img, self.boxes, self.classes, self.names, self.scores, bgr=True)

    def __repr__(self) -> str:
        return f"Result({self.name!r}, {len(self)} boxes)"
