"""What `turboyolo predict` writes for each FrameResult (engine/predictor.py) into its run folder.

- an image: the annotated image under its output name, and `predictions.json` ({name: [detections]})
  written when the run ends;
- a video, camera or stream: the annotated video `<name stem>.mp4` (same size; fps / vid_stride, so
  it lasts as long as the source) and `<name stem>.jsonl`, one line per frame, written as the frames
  come (a stream that never ends still leaves its results, and Ctrl-C closes a playable file);
- save_txt=true: YOLO labels `class cx cy w h` (normalised), next to an image (`a.txt`) or one file
  per frame in `<name stem>/` (`000012.txt`, the frame number). Without save_conf they read back as
  training labels (pseudo-labelling); save_conf=true adds the score as a 6th column.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from turboyolo.engine.predictor import FrameResult
from turboyolo.plots.boxes_grid import draw_boxes

VIDEO_FOURCC = "mp4v"  # MPEG-4 part 2: written by the OpenCV wheels without extra codecs (H.264 often is not)
VIDEO_SUFFIX = ".mp4"


def detections_json(dets: np.ndarray, names: list[str]) -> list[dict]:
    """(N, 6) xyxy, score, class -> [{"class", "name", "score", "box_xyxy"}] (scores 4 decimals, boxes 2)."""
    return [{"class": int(c), "name": names[int(c)] if int(c) < len(names) else str(int(c)),
             "score": round(float(s), 4), "box_xyxy": [round(float(v), 2) for v in (x1, y1, x2, y2)]}
            for x1, y1, x2, y2, s, c in dets.tolist()]


def yolo_label_lines(dets: np.ndarray, height: int, width: int, save_conf: bool) -> str:
    """(N, 6) xyxy pixels, score, class -> YOLO txt: `class cx cy w h` normalised (+ ` score` with save_conf)."""
    lines = []
    for x1, y1, x2, y2, score, cls in dets.tolist():
        line = (f"{int(cls)} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
                f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
        lines.append(line + (f" {score:.4f}" if save_conf else ""))
    return "".join(line + "\n" for line in lines)


class _VideoOutput:
    """The annotated video and per-frame JSON lines of one video source."""

    def __init__(self, folder: Path, name: str, fps: float, size: tuple[int, int], taken: set[str]):
        stem = str(Path(name).with_suffix(""))
        if str(folder / f"{stem}{VIDEO_SUFFIX}") in taken:  # clip.avi after clip.mp4: clip.avi.mp4
            stem = name
        self.name = name
        self.path = folder / f"{stem}{VIDEO_SUFFIX}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*VIDEO_FOURCC), fps, size)
        if not self.writer.isOpened():
            raise OSError(f"OpenCV cannot write {self.path} ({VIDEO_FOURCC}); is it built with FFmpeg?")
        self.size = size
        self.labels_dir = folder / stem
        # line-buffered: the results of a stream that never ends show as they come
        self.jsonl = (folder / f"{stem}.jsonl").open("w", buffering=1)
        self.frames = 0

    def close(self) -> None:
        self.writer.release()
        self.jsonl.close()


class PredictionWriter:
    """Writes FrameResults into `folder` (see the module docstring); call close() at the end (or use `with`)."""

    def __init__(self, folder: str | Path, names: list[str], save_txt: bool, save_conf: bool, line_width: int,
                 vid_stride: int):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.names = list(names)
        self.save_txt, self.save_conf, self.line_width = save_txt, save_conf, line_width
        self.vid_stride = vid_stride
        self.images: dict[str, list[dict]] = {}  # predictions.json
        self.videos: dict[str, int] = {}  # output video path -> frames written
        self.boxes = 0
        self._video: _VideoOutput | None = None

    def __enter__(self) -> "PredictionWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, result: FrameResult) -> None:
        frame = result.frame
        annotated = draw_boxes(frame.image, result.boxes, result.classes, self.names, result.scores,
                               line_width=self.line_width, bgr=True)
        height, width = frame.image.shape[:2]
        self.boxes += len(result.dets)
        if frame.video is None:
            self._write_image(frame.name, annotated, result.dets, height, width)
        else:
            self._write_video_frame(result, annotated, height, width)

    def _write_image(self, name: str, annotated: np.ndarray, dets: np.ndarray, height: int, width: int) -> None:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), annotated):
            raise OSError(f"could not write {path}")
        self.images[name] = detections_json(dets, self.names)
        if self.save_txt:
            path.with_suffix(".txt").write_text(yolo_label_lines(dets, height, width, self.save_conf))

    def _write_video_frame(self, result: FrameResult, annotated: np.ndarray, height: int, width: int) -> None:
        frame = result.frame
        video = self._video
        if video is None or video.name != frame.name:
            self._close_video()
            video = _VideoOutput(self.folder, frame.name, frame.video.fps / self.vid_stride, (width, height),
                                 set(self.videos))
            self._video = video
        if (width, height) != video.size:  # a stream that changes resolution mid-way: keep the file's size
            annotated = cv2.resize(annotated, video.size)
        video.writer.write(annotated)
        video.frames += 1
        detections = detections_json(result.dets, self.names)
        video.jsonl.write(json.dumps({"frame": frame.index, "detections": detections}) + "\n")
        if self.save_txt:
            video.labels_dir.mkdir(parents=True, exist_ok=True)
            (video.labels_dir / f"{frame.index:06d}.txt").write_text(
                yolo_label_lines(result.dets, height, width, self.save_conf))

    def _close_video(self) -> None:
        if self._video is not None:
            self._video.close()
            self.videos[str(self._video.path)] = self._video.frames
            self._video = None

    def close(self) -> None:
        """Finish the open video (a playable file even after Ctrl-C) and write predictions.json."""
        self._close_video()
        (self.folder / "predictions.json").write_text(json.dumps(self.images, indent=1))

    def summary(self) -> str:
        parts = [f"{len(self.images)} images"] if self.images or not self.videos else []
        parts += [f"{frames} frames -> {Path(path).name}" for path, frames in self.videos.items()]
        return f"{', '.join(parts)}, {self.boxes} boxes -> {self.folder}"

