"""Decode-and-resize every image once, into ONE shared copy per machine.

The cache is a single flat uint8 file (all images back to back, each resized so its long side is
``imgsz``) plus an index file of (offset, height, width) rows, mapped with numpy.memmap:

- ``ram``:  the file lives in /dev/shm (tmpfs). Every process that maps it - DataLoader workers,
  the ranks of a DDP job on this machine - shares the same physical pages, so the machine holds one
  copy, not one per worker or per GPU. The last process to let go of it deletes it (a shared
  flock on a ``.users`` file counts the users; crashed processes release theirs automatically, and
  caches that killed runs left behind are swept when the next cache is opened).
  /dev/shm is shared by every user of the machine, so the files go into this user's own folder
  /dev/shm/turboyolo-<uid>, created mode 0700 and checked to be ours: no other user can pre-create,
  replace or read a cache file. If another user holds that name, the cache falls back to the cache
  folder below (the page cache still shares it between processes).
- ``disk``: the same files under ``cache_root()/image_cache``, kept across runs. The page cache
  shares them between processes just the same.

Both are named by a key over (format version, imgsz, every image's path, size and mtime), so a
changed image or size gives a new cache. The first process to arrive builds it under an exclusive
file lock; the others wait on the lock, then map the finished file read-only. The index file is
written last (atomic rename), so a cache interrupted mid-build is never mistaken for a finished one.
"""
from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from turboyolo.cores import usable_cores
from turboyolo.data.letterbox import resize_long_side, resized_shape
from turboyolo.data.records import ImageRecord
from turboyolo.paths import cache_root

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when the stored pixels would change (resize method, colour order...)
SHM_DIR = Path("/dev/shm")


def read_resized(path: str, width: int, height: int, imgsz: int) -> np.ndarray:
    """Decode one image (BGR) and resize it so its long side is ``imgsz``: (h, w, 3) uint8.

    ``width``/``height`` are the record's: the image is resized to the record's frame scaled, so the
    record's boxes scaled by the same factors land on the right pixels.
    """
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot decode image {path}")
    if image.shape[:2] != (height, width):
        # e.g. a reader that took the size from the annotation file: trust the boxes' frame
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return resize_long_side(image, imgsz)


def cache_key(records: list[ImageRecord], imgsz: int) -> str:
    """Hex key over format version, imgsz and each image's path, byte size and mtime."""
    digest = hashlib.sha1(json.dumps([CACHE_VERSION, imgsz]).encode())
    for record in records:
        stat = os.stat(record.path)
        digest.update(f"{record.path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{record.width}\0{record.height}\n".encode())
    return digest.hexdigest()[:20]


def _layout(records: list[ImageRecord], imgsz: int) -> np.ndarray:
    """(N, 3) int64 rows (byte offset, height, width) of each resized image in the flat file."""
    shapes = np.array([resized_shape(r.height, r.width, imgsz) for r in records], dtype=np.int64).reshape(-1, 2)
    sizes = shapes[:, 0] * shapes[:, 1] * 3
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return np.concatenate([offsets[:, None], shapes], axis=1)


def private_shm_dir(shm: Path | None = None) -> Path | None:
    """This user's folder for RAM caches, <shm>/turboyolo-<uid> (created 0700), or None when that
    name is something we cannot trust: not a real folder, owned by another user, or open to others."""
    folder = (shm or SHM_DIR) / f"turboyolo-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        info = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return folder


def _cache_dir(mode: str, needed_bytes: int, configured: str | None) -> Path:
    if mode == "ram":
        if SHM_DIR.is_dir() and os.access(SHM_DIR, os.W_OK) and shutil.disk_usage(SHM_DIR).free > needed_bytes * 1.1:
            private = private_shm_dir()
            if private is not None:
                return private
            log.warning("image cache: %s/turboyolo-%d exists but is not this user's private folder; "
                        "using the cache dir (page cache)", SHM_DIR, os.getuid())
        else:
            log.warning("image cache: /dev/shm missing or too small for %.1f GB; using the cache dir (page cache)",
                        needed_bytes / 1e9)
        folder = cache_root(configured) / "image_cache" / "ram"
    elif mode == "disk":
        folder = cache_root(configured) / "image_cache"
    else:
        raise ValueError(f"cache mode must be 'ram' or 'disk', got {mode!r}")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sweep_stale_ram_caches(folder: Path) -> int:
    """Delete this user's RAM caches that no live process uses (left by runs killed before they could clean up).

    A cache is in use while some process holds a shared lock on its ``.users`` file; the kernel
    drops the locks of dead processes, so an exclusive lock that succeeds proves it is abandoned.
    Files of other users are never opened, let alone removed. Returns the number of caches removed.
    """
    removed = 0
    for users in folder.glob("turboyolo-images-*.users"):
        try:
            if os.lstat(users).st_uid != os.getuid():
                continue  # another user's cache: not ours to judge
            fd = os.open(users, os.O_RDWR | os.O_NOFOLLOW)
        except OSError:  # gone meanwhile, or not ours to open (PermissionError), or a symlink
            continue
        try:
            if os.fstat(fd).st_uid != os.getuid():
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            stem = str(users)[: -len(".users")]
            for suffix in (".bin", ".index.npy", ".index.tmp.npy", ".lock", ".users"):
                Path(f"{stem}{suffix}").unlink(missing_ok=True)
            removed += 1
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
    return removed


class SharedImageCache:
    """Resized images of a list of records, shared by every process on the machine.

    Use ``SharedImageCache.open(records, imgsz, mode)``; then ``slot(path)`` gives an image's
    position and ``get(slot)`` its (h, w, 3) uint8 BGR pixels (a read-only view; long side imgsz).
    Pickling sends only file names: a spawned worker maps the same file again.
    """

    def __init__(self, stem: Path, layout: np.ndarray, paths: list[str], imgsz: int, mode: str, data=None):
        self.stem = stem  # files are stem + ".bin" / ".index.npy" / ".lock" / ".users"
        self.layout = layout  # (N, 3) int64 offset, height, width
        self.paths = paths
        self.imgsz = imgsz
        self.mode = mode
        self._slots = {path: i for i, path in enumerate(paths)}
        self._data = data
        self._users_fd: int | None = None
        self._owner_pid = os.getpid()

    # --- building / opening -------------------------------------------------------------------
    @classmethod
    def open(cls, records: list[ImageRecord], imgsz: int, mode: str = "ram", cache_dir: str | None = None,
             threads: int | None = None) -> "SharedImageCache":
        """Map the cache of ``records`` at ``imgsz``, building it first if no process has yet."""
        layout = _layout(records, imgsz)
        nbytes = int(layout[-1, 0] + layout[-1, 1] * layout[-1, 2] * 3) if len(records) else 0
        folder = _cache_dir(mode, nbytes, cache_dir)
        stem = folder / f"turboyolo-images-{cache_key(records, imgsz)}"
        cache = cls(stem, layout, [r.path for r in records], imgsz, mode)
        if mode == "ram":
            if sweep_stale_ram_caches(folder):
                log.info("image cache: removed RAM caches abandoned by killed runs from %s", folder)
            cache._join_users()
        with open(f"{stem}.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # others block here while the first process builds
            try:
                if not Path(f"{stem}.index.npy").exists():
                    cache._data = cache._build(records, nbytes, threads)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        if cache._data is None:
            cache._data = cache._map()
        return cache

    def _build(self, records: list[ImageRecord], nbytes: int, threads: int | None) -> np.ndarray:
        start = time.perf_counter()
        data = np.memmap(f"{self.stem}.bin", dtype=np.uint8, mode="w+", shape=(max(nbytes, 1),))

        def fill(slot: int) -> None:
            offset, height, width = self.layout[slot]
            record = records[slot]
            image = read_resized(record.path, record.width, record.height, self.imgsz)
            data[offset : offset + height * width * 3] = image.reshape(-1)

        # cv2 decodes with the GIL released, so threads scale with cores
        with ThreadPoolExecutor(max_workers=threads or min(8, usable_cores())) as pool:
            list(pool.map(fill, range(len(records))))
        data.flush()
        tmp = Path(f"{self.stem}.index.tmp.npy")
        np.save(tmp, self.layout)
        os.replace(tmp, f"{self.stem}.index.npy")
        log.info("image cache (%s): %d images, %.1f MB, built in %.1f s -> %s.bin", self.mode, len(records),
                 nbytes / 1e6, time.perf_counter() - start, self.stem)
        # keep the mapping we wrote through: its pages stay mapped here, so readers share them
        data.flags.writeable = False
        return data

    def _map(self) -> np.ndarray:
        stored = np.load(f"{self.stem}.index.npy")
        if not np.array_equal(stored, self.layout):
            raise RuntimeError(f"image cache {self.stem}: stored layout differs from the records (delete it)")
        return np.memmap(f"{self.stem}.bin", dtype=np.uint8, mode="r")

    # --- lifetime of the RAM copy ---------------------------------------------------------------
    def _join_users(self) -> None:
        """Hold a shared lock on the users file while this process may read the cache."""
        path = f"{self.stem}.users"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_SH)
            try:  # the last user may have deleted the file between our open and our lock
                if os.fstat(fd).st_ino == os.stat(path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        self._users_fd = fd
        atexit.register(self.release)

    def release(self) -> None:
        """Stop using the cache; the last process on the machine deletes a RAM cache's files."""
        if self._users_fd is None or os.getpid() != self._owner_pid:
            return
        self._data = None
        try:
            fcntl.flock(self._users_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # succeeds only if nobody else uses it
            for suffix in (".bin", ".index.npy", ".users", ".lock"):
                Path(f"{self.stem}{suffix}").unlink(missing_ok=True)
        except BlockingIOError:
            pass
        finally:
            os.close(self._users_fd)
            self._users_fd = None

    # --- reading ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.paths)

    @property
    def nbytes(self) -> int:
        return int(self.layout[:, 1].dot(self.layout[:, 2]) * 3)

    def slot(self, path: str) -> int:
        """Position of an image path in the cache (KeyError if it was not cached)."""
        return self._slots[path]

    def get(self, slot: int) -> np.ndarray:
        """(h, w, 3) uint8 BGR, long side imgsz: a read-only view into the shared file."""
        if self._data is None:
            self._data = self._map()
        offset, height, width = self.layout[slot]
        return self._data[offset : offset + height * width * 3].reshape(height, width, 3)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(_data=None, _users_fd=None, _slots=None)  # workers re-map by file name
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._slots = {path: i for i, path in enumerate(self.paths)}
        self._owner_pid = -1  # a copy never deletes the files


def open_image_cache(records: list[ImageRecord], cfg, imgsz: int | None = None) -> SharedImageCache | None:
    """The cache the config asks for (cfg.cache = ram | disk | none) over ``records``, or None."""
    mode = str(cfg.cache).lower()
    if mode in ("none", "false", "") or not records:
        return None
    return SharedImageCache.open(records, int(imgsz or cfg.imgsz), mode, cfg.cache_dir)
