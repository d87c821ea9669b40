"""What `predict` reads, as one stream of frames: images, videos, folders and globs of them, cameras, URLs.

source= may be an image or video file, a folder (non-recursive) or glob of images and videos, a
camera index (`0`) or a network stream (rtsp://, rtmp://, http(s)://). Videos, cameras and streams
are read by OpenCV's VideoCapture; vid_stride=N keeps every Nth frame (the others are grabbed, not
decoded). Every frame carries the output name of its file, so the writer knows where it belongs.
"""
from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

import cv2
import numpy as np

from turboyolo.config import default_of
from turboyolo.data.formats.image_probe import IMAGE_EXTENSIONS, is_image_file

# Containers OpenCV's FFmpeg back-end reads; one owner for "is this a video".
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv", ".webm", ".flv",
                              ".ts", ".asf", ".3gp"})
STREAM_PREFIXES = ("rtsp://", "rtmp://", "http://", "https://")
FALLBACK_FPS = 30.0  # what a camera or stream that reports no frame rate is written at


class SourceItem(NamedTuple):
    path: Path | str  # a file, or a camera index / URL (str) for a live stream
    name: str  # output name, unique within one source: "a.jpg", "cats/a.jpg" for a glob, "clip.mp4", "camera0"
    kind: str  # "image", "video" (a file) or "stream" (camera or URL: no known length)


@dataclass(frozen=True)
class VideoInfo:
    fps: float  # frames per second of the source (FALLBACK_FPS when it reports none)
    width: int
    height: int
    frames: int  # frames in the file; 0 for a camera or stream


@dataclass
class Frame:
    """One image to predict on. image: BGR (H, W, 3) uint8."""

    image: np.ndarray
    name: str  # the SourceItem's output name
    index: int = -1  # frame number in its video, counted before vid_stride; -1 for an image
    video: VideoInfo | None = None  # None for an image
    source: Path | str | None = None  # the SourceItem's path (None for an array given in memory)


def is_video_file(name: str) -> bool:
    return Path(name).suffix.lower() in VIDEO_EXTENSIONS


def is_stream(source: str) -> bool:
    """A camera index ("0") or a network URL, unless a file of that name exists."""
    return (source.isdigit() or source.lower().startswith(STREAM_PREFIXES)) and not Path(source).exists()


def stream_name(source: str) -> str:
    """Output name of a live source: camera0, or the URL's last path part (rtsp://host/live/cam1 -> cam1)."""
    if source.isdigit():
        return f"camera{source}"
    address = source.split("?")[0].split("://", 1)[-1].rstrip("/")
    last = address.rsplit("/", 1)[-1] if "/" in address else ""  # no path: host[:port] only
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(last).stem)
    return stem or "stream"


def _item(path: Path, name: str) -> SourceItem:
    return SourceItem(path, name, "video" if is_video_file(path.name) else "image")


def _readable(name: str) -> bool:
    return is_image_file(name) or is_video_file(name)


def list_sources(source: str) -> list[SourceItem]:
    """An image or video file, a folder (non-recursive), a glob, a camera index or a stream URL -> items,
    sorted, with unique output names.

    A glob may match one file name in several folders (data/*/img.jpg): names then keep the folders
    below the matches' common folder (a/img.jpg, b/img.jpg), so no output overwrites another.
    Raises FileNotFoundError (one line) when nothing readable is found.
    """
    source = str(source)
    if is_stream(source):
        return [SourceItem(source, stream_name(source), "stream")]
    path = Path(source)
    if path.is_dir():
        items = [_item(p, p.name) for p in sorted(path.iterdir()) if _readable(p.name)]
    elif path.is_file():
        items = [_item(path, path.name)]
    else:
        matches = sorted({os.path.normpath(p) for p in glob.glob(source) if _readable(p)})
        base = (os.path.commonpath([os.path.dirname(p) or "." for p in matches]) if matches else "") or "."
        items = [_item(Path(p), Path(os.path.relpath(p, base)).as_posix()) for p in matches]
    if not items:
        accepted = ", ".join(sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))
        raise FileNotFoundError(f"source={source}: no images or videos found (accepted: {accepted}; "
                                "or a camera index such as 0, or an rtsp/http URL)")
    return items


def open_capture(item: SourceItem) -> tuple[cv2.VideoCapture, VideoInfo]:
    """An opened VideoCapture and what it reports; FileNotFoundError (one line) when it cannot be opened."""
    target = int(item.path) if item.kind == "stream" and str(item.path).isdigit() else str(item.path)
    capture = cv2.VideoCapture(target)
    if not capture.isOpened():
        capture.release()
        what = "camera" if isinstance(target, int) else "stream" if item.kind == "stream" else "video"
        raise FileNotFoundError(f"source={item.path}: cannot open this {what} with OpenCV "
                                f"(check the {'index' if what == 'camera' else 'path or URL'}, and that OpenCV has FFmpeg)")
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if item.kind == "video" else 0
    info = VideoInfo(fps if 0 < fps < 1000 else FALLBACK_FPS, int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), max(frames, 0))
    return capture, info


def video_frames(item: SourceItem, vid_stride: int = default_of("vid_stride")) -> Iterator[Frame]:
    """Frames 0, N, 2N, ... of a video file, camera or stream (N = vid_stride), until it ends."""
    capture, info = open_capture(item)
    try:
        index = 0
        while capture.grab():  # grab without decoding: skipped frames cost no decode
            if index % vid_stride == 0:
                ok, image = capture.retrieve()
                if not ok:
                    break
                yield Frame(image, item.name, index, info, item.path)
            index += 1
    finally:
        capture.release()


def iter_frames(items: Iterable[SourceItem], vid_stride: int = default_of("vid_stride")) -> Iterator[Frame]:
    """Every item's frames in order. An unreadable file among several is skipped with one line on
    stderr; a single source that cannot be read raises FileNotFoundError."""
    items = list(items)
    for item in items:
        if item.kind == "image":
            image = cv2.imread(str(item.path))
            if image is None:
                if len(items) == 1:
                    raise FileNotFoundError(f"source={item.path}: not a readable image")
                print(f"turboyolo predict: skipping unreadable image {item.path}", file=sys.stderr)
                continue
            yield Frame(image, item.name, source=item.path)
            continue
        try:
            yield from video_frames(item, vid_stride)
        except FileNotFoundError as err:
            if len(items) == 1:
                raise
            print(f"turboyolo predict: skipping {err}", file=sys.stderr)


def batched(frames: Iterable[Frame], size: int) -> Iterator[list[Frame]]:
    """Consecutive frames in lists of up to `size` (the last one shorter)."""
    batch: list[Frame] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
