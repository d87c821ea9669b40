"""`turboyolo synth`: a synthetic YOLO dataset of drawn shapes with exact boxes, made to be learnt fast.

The class of an object is its shape (circle, square, triangle, cross, ring, star, half circle,
arrow); its colour, size (about 8% to 45% of the image side), rotation and position are random.
With more classes than shapes, each class also gets its own band of hues. Backgrounds are smooth,
desaturated colour noise with fine grain and a few thin lines; objects may overlap a little (at
most 30% of the smaller box) and be cut by the image border (at most ~15% per side). A box is the
tight extent of the object's own drawn pixels inside the image, so boxes are exact to the pixel.

Output (deterministic for a seed): out/images/{train,val}/*.jpg, out/labels/{train,val}/*.txt,
out/data.yaml. A handful of cv2 calls per object: ~7 ms per 256 px image on a busy 2-core CPU.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import yaml

from turboyolo.config import ConfigError
from turboyolo.paths import cache_root

SHAPES = ("circle", "square", "triangle", "cross", "ring", "star", "half_circle", "arrow")
SYNTH_VERSION = 1  # bump when the drawing changes: cached synthetic sets are then regenerated
DEFAULT = {"n_train": 256, "n_val": 64, "imgsz": 256, "nc": 3, "seed": 0}
MIN_SIZE, MAX_SIZE = 0.08, 0.45  # object size range, fraction of the image side (log-uniform)
MAX_OBJECTS = 6
MAX_OVERLAP = 0.3  # boxes overlap by at most this share of the smaller one: occluded, never hidden
JPEG_QUALITY = 92

_ARROW = np.array([(-1, -0.25), (0.2, -0.25), (0.2, -0.6), (1, 0), (0.2, 0.6), (0.2, 0.25), (-1, 0.25)])


def _polygon(shape: str, radius: float, angle: float) -> list[np.ndarray]:
    """Outline(s) of a shape centred at 0, in pixels, rotated by `angle` radians."""
    def ring_points(count: int, radii, start: float) -> np.ndarray:
        angles = start + np.arange(count) * 2 * np.pi / count
        return np.stack([np.cos(angles), np.sin(angles)], 1) * np.asarray(radii)[:, None]

    if shape == "square":
        return [ring_points(4, np.full(4, radius), angle + np.pi / 4)]
    if shape == "triangle":
        return [ring_points(3, np.full(3, radius), angle)]
    if shape == "star":
        return [ring_points(10, np.tile([radius, 0.45 * radius], 5), angle)]
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    if shape == "arrow":
        return [_ARROW * radius @ rotation.T]
    if shape == "cross":
        bar = np.array([(-1, -0.3), (1, -0.3), (1, 0.3), (-1, 0.3)]) * radius
        return [bar @ rotation.T, bar[:, ::-1] @ rotation.T]
    raise ValueError(shape)


def _draw_mask(shape: str, radius: float, angle: float) -> np.ndarray:
    """(P, P) uint8 mask of one object, 255 inside, centred in a square patch of side P."""
    side = int(math.ceil(2 * radius)) + 4
    mask = np.zeros((side, side), np.uint8)
    centre = (side / 2, side / 2)
    if shape in ("circle", "ring"):
        cv2.circle(mask, (int(centre[0] * 16), int(centre[1] * 16)), int(radius * 16), 255, -1, shift=4)
        if shape == "ring":
            cv2.circle(mask, (int(centre[0] * 16), int(centre[1] * 16)), int(radius * 0.55 * 16), 0, -1, shift=4)
    elif shape == "half_circle":
        cv2.ellipse(mask, (int(centre[0]), int(centre[1])), (int(radius), int(radius)), math.degrees(angle), 0, 180, 255, -1)
    else:
        for polygon in _polygon(shape, radius, angle):  # one call each: fillPoly would XOR overlaps
            cv2.fillPoly(mask, [np.round((polygon + centre) * 16).astype(np.int32)], 255, shift=4)
    return mask


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth, mostly grey colour noise plus grain and a few thin lines: texture, but no object."""
    cells = int(rng.integers(3, 9))
    grey = rng.uniform(50, 200, (cells, cells, 1))
    tint = rng.uniform(-25, 25, (cells, cells, 3))
    image = cv2.resize((grey + tint).astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    grain = np.empty_like(image)
    cv2.setRNGSeed(int(rng.integers(2**31)))  # cv2's generator is ~5x faster than numpy's normal here
    cv2.randn(grain, 0.0, 6.0)
    image += grain
    for _ in range(int(rng.integers(0, 4))):
        p1, p2 = rng.integers(0, size, 2), rng.integers(0, size, 2)
        colour = tuple(float(v) for v in rng.uniform(40, 215, 3))
        cv2.line(image, (int(p1[0]), int(p1[1])), (int(p2[0]), int(p2[1])), colour, 1)
    return image


def _object_colour(rng: np.random.Generator, class_id: int, nc: int) -> tuple[float, float, float]:
    """A saturated, bright BGR colour; classes beyond the shape count also get their own hue band."""
    bands = -(-nc // len(SHAPES))
    band = class_id // len(SHAPES)
    hue = rng.uniform(band, band + 1) * 180 / bands if bands > 1 else rng.uniform(0, 180)
    hsv = np.array([[[hue, rng.uniform(150, 255), rng.uniform(160, 255)]]], np.float32)
    hsv[..., 0] = np.clip(hsv[..., 0], 0, 179.9)
    bgr = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)[0, 0]
    return tuple(float(v) for v in bgr)


def _overlap(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over the smaller box's area: 1 when one box lies inside the other."""
    lt = np.maximum(box[:2], others[:, :2])
    rb = np.minimum(box[2:], others[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), 1)
    area = lambda b: np.prod(b[..., 2:] - b[..., :2], -1)  # noqa: E731
    return inter / np.minimum(area(box), area(others))


def render_image(rng: np.random.Generator, size: int, nc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image of objects of `nc` classes. Returns (size, size, 3) uint8 BGR, boxes (N, 4) float xyxy px, classes (N,) int."""
    image = _background(rng, size)
    boxes, labels = [], []
    for _ in range(int(rng.integers(1, MAX_OBJECTS + 1))):
        class_id = int(rng.integers(nc))
        radius = math.exp(rng.uniform(math.log(MIN_SIZE), math.log(MAX_SIZE))) * size / 2
        mask = _draw_mask(SHAPES[class_id % len(SHAPES)], radius, rng.uniform(0, 2 * np.pi))
        side = mask.shape[0]
        for _attempt in range(10):
            # The patch centre may sit 0.35 radius outside the inner area: up to ~15% cut by a border.
            margin = 0.7 * radius
            cx, cy = rng.uniform(margin, size - margin, 2)
            x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
            sx0, sy0 = max(0, -x0), max(0, -y0)
            sx1, sy1 = min(side, size - x0), min(side, size - y0)
            visible = mask[sy0:sy1, sx0:sx1]
            cols, rows = np.flatnonzero(visible.any(0)), np.flatnonzero(visible.any(1))
            if not len(cols):
                continue
            box = np.array([x0 + sx0 + cols[0], y0 + sy0 + rows[0], x0 + sx0 + cols[-1] + 1, y0 + sy0 + rows[-1] + 1], float)
            if boxes and _overlap(box, np.array(boxes)).max() > MAX_OVERLAP:
                continue
            region = image[y0 + sy0:y0 + sy1, x0 + sx0:x0 + sx1]
            shade = np.array(_object_colour(rng, class_id, nc), np.float32)
            region[visible > 0] = shade + rng.normal(0, 4, (int((visible > 0).sum()), 3)).astype(np.float32)
            boxes.append(box)
            labels.append(class_id)
            break
    pixels = np.clip(image, 0, 255).astype(np.uint8)
    return pixels, np.array(boxes, float).reshape(-1, 4), np.array(labels, np.int64)


def class_names(nc: int) -> list[str]:
    bands = -(-nc // len(SHAPES))
    return [SHAPES[c % len(SHAPES)] + (f"_hue{c // len(SHAPES)}" if bands > 1 else "") for c in range(nc)]


def generate_synthetic(out: str | Path, n_train: int, n_val: int, imgsz: int, nc: int, seed: int) -> Path:
    """Write the synthetic dataset of `nc` classes under `out`; returns out/data.yaml. Same seed, same bytes."""
    if not 1 <= nc <= 80:
        raise ValueError(f"nc must be in [1, 80], got {nc}")
    if imgsz < 32:
        raise ValueError(f"imgsz must be at least 32, got {imgsz}")
    out = Path(out)
    for split_code, (split, count) in enumerate((("train", n_train), ("val", n_val))):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            rng = np.random.default_rng([seed, split_code, index])
            image, boxes, labels = render_image(rng, imgsz, nc)
            name = f"{split}_{index:06d}"
            cv2.imwrite(str(out / "images" / split / f"{name}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            cxcywh = np.column_stack([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]]) / imgsz
            text = "".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, (x, y, w, h) in zip(labels, cxcywh))
            (out / "labels" / split / f"{name}.txt").write_text(text)
    data_yaml = out / "data.yaml"
    description = {"path": str(out.resolve()), "train": "images/train", "val": "images/val", "names": class_names(nc)}
    data_yaml.write_text(yaml.safe_dump(description, sort_keys=False))
    return data_yaml


def synthetic_folder(cache_dir: str | None, **params) -> Path:
    """cache_root()/synthetic-<hash of the parameters and generator version>."""
    key = json.dumps({**params, "version": SYNTH_VERSION}, sort_keys=True)
    return cache_root(cache_dir) / f"synthetic-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def ensure_synthetic(cache_dir: str | None = None, **params) -> Path:
    """The data.yaml of a cached synthetic set, generated on first use (safe if ranks race)."""
    folder = synthetic_folder(cache_dir, **params)
    if (folder / "data.yaml").is_file():
        return folder / "data.yaml"
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=folder.name + ".tmp"))
    data_yaml = generate_synthetic(staging, **params)
    # data.yaml records an absolute path: point it at the final folder before it appears there.
    description = yaml.safe_load(data_yaml.read_text())
    description["path"] = str(folder.resolve())
    data_yaml.write_text(yaml.safe_dump(description, sort_keys=False))
    try:
        os.rename(staging, folder)  # atomic: a reader sees no folder or a complete one
    except OSError:  # another process finished first
        shutil.rmtree(staging, ignore_errors=True)
    return folder / "data.yaml"


def default_synthetic_dataset(cache_dir: str | None = None) -> Path:
    """What data=synthetic reads: 256 train + 64 val images of 256 px with 3 shape classes."""
    return ensure_synthetic(cache_dir, **DEFAULT)


def class_count(cfg) -> int:
    """nc=, or the class count an older command line gave as classes=K (that key is now the predict/val
    class filter): read as nc with a deprecation line, so `synth classes=3` keeps making 3 classes."""
    if "classes" not in cfg.given:
        return cfg.nc
    if "nc" in cfg.given or len(cfg.classes) != 1:
        raise ConfigError(f"synth: classes={','.join(map(str, cfg.classes))} is the predict/val class filter; "
                          "the number of classes to generate is nc=K")
    count = cfg.classes[0]
    if not 1 <= count <= 80:
        raise ConfigError(f"synth: classes={count} (read as nc=): expected 1..80 classes; use nc=K")
    print(f"turboyolo synth: classes={count} is deprecated here, use nc={count} (classes= is the predict/val class filter)",
          file=sys.stderr)
    return count


def run(cfg, positional) -> int:
    """turboyolo synth out=DIR n=TOTAL imgsz=PX nc=K seed=S (n is split 80/20 train/val)."""
    n_val = max(1, round(cfg.n * 0.2))
    n_train = max(1, cfg.n - n_val)
    nc = class_count(cfg)
    params = {"n_train": n_train, "n_val": n_val, "imgsz": cfg.imgsz, "nc": nc, "seed": cfg.seed}
    if cfg.out:
        data_yaml = generate_synthetic(cfg.out, **params)
    else:
        data_yaml = ensure_synthetic(cfg.cache_dir, **params)
    print(f"synthetic dataset: {n_train} train + {n_val} val images, {cfg.imgsz} px, "
          f"{nc} classes ({', '.join(class_names(nc))})\ndata={data_yaml}")
    return 0
