import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest

from turboyolo.data.image_cache import SharedImageCache, cache_key, read_resized
from turboyolo.data.records import ImageRecord
from tests.data.loader_fixtures import write_records


@pytest.fixture
def records(tmp_path):
    return write_records(tmp_path / "images", 5, height=60, width=80)


def test_cached_pixels_equal_a_fresh_decode(records):
    cache = SharedImageCache.open(records, 64, "ram")
    try:
        assert str(cache.stem).startswith("/dev/shm/")
        for i, record in enumerate(records):
            assert np.array_equal(cache.get(cache.slot(record.path)), read_resized(record.path, 80, 60, 64))
        assert cache.get(0).shape == (48, 64, 3) and not cache.get(0).flags.writeable
    finally:
        cache.release()
    assert not Path(f"{cache.stem}.bin").exists()  # last user gone: RAM freed


def test_second_open_maps_instead_of_rebuilding(records, monkeypatch):
    first = SharedImageCache.open(records, 64, "ram")
    monkeypatch.setattr(SharedImageCache, "_build", lambda *a: pytest.fail("rebuilt an existing cache"))
    second = SharedImageCache.open(records, 64, "ram")
    try:
        assert second.stem == first.stem and np.array_equal(second.get(3), first.get(3))
        first.release()
        assert Path(f"{second.stem}.bin").exists()  # still in use by `second`
    finally:
        second.release()
    assert not Path(f"{second.stem}.bin").exists()


def test_disk_cache_persists_and_is_keyed_by_content_and_size(records, tmp_path):
    cache = SharedImageCache.open(records, 64, "disk", cache_dir=str(tmp_path / "c"))
    cache.release()
    assert Path(f"{cache.stem}.bin").exists() and str(tmp_path / "c") in str(cache.stem)
    key = cache_key(records, 64)
    assert cache_key(records, 32) != key
    cv2.imwrite(records[0].path, np.full((60, 80, 3), 7, np.uint8))
    os.utime(records[0].path, ns=(1, 1))  # mtime changes even within one clock tick
    assert cache_key(records, 64) != key


def test_pickled_cache_remaps_by_file_name(records):
    cache = SharedImageCache.open(records, 64, "ram")
    try:
        payload = pickle.dumps(cache)
        assert len(payload) < 10_000  # file names, not pixels
        copy = pickle.loads(payload)
        assert np.array_equal(copy.get(2), cache.get(2))
        copy.release()  # a copy never deletes the files
        assert Path(f"{cache.stem}.bin").exists()
    finally:
        cache.release()


_CHILD = textwrap.dedent(
    """
    import json, sys, psutil, numpy as np
    from turboyolo.data.image_cache import SharedImageCache
    from turboyolo.data.records import ImageRecord
    rows = json.loads(sys.argv[1])
    records = [ImageRecord(p, w, h, np.zeros((0, 4)), []) for p, w, h in rows]
    me = psutil.Process()
    before = me.memory_full_info()
    cache = SharedImageCache.open(records, int(sys.argv[2]), "ram")
    touched = sum(int(np.asarray(cache.get(i)).sum(dtype=np.int64)) for i in range(len(cache)))
    after = me.memory_full_info()
    print(json.dumps({"pss_before": before.pss, "uss": after.uss - before.uss, "nbytes": cache.nbytes}), flush=True)
    sys.stdin.readline()  # stay alive (and mapped) until the test has measured
    """
)


def _start_reader(rows, imgsz):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(rows), str(imgsz)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    return proc, json.loads(proc.stdout.readline())


def test_two_processes_share_one_ram_copy(tmp_path):
    """Summed PSS of two readers grows by one cache, and the second reader's USS barely grows."""
    folder = tmp_path / "big"
    folder.mkdir()
    rows = []
    for i in range(12):  # 12 x 1024x768x3 = 28 MB of cache; flat images decode fast
        path = folder / f"{i}.png"
        cv2.imwrite(str(path), np.full((768, 1024, 3), i * 10, np.uint8))
        rows.append([str(path), 1024, 768])
    first, first_report = _start_reader(rows, 1024)  # builds it
    second, second_report = _start_reader(rows, 1024)  # maps it
    try:
        nbytes = first_report["nbytes"]
        assert nbytes > 25e6
        # both map it now; PSS splits each shared page between its mappers
        growth = sum(psutil.Process(proc.pid).memory_full_info().pss - report["pss_before"]
                     for proc, report in ((first, first_report), (second, second_report)))
        assert 0.7 * nbytes < growth < 1.3 * nbytes, (growth, nbytes)  # one copy, not two
        assert second_report["uss"] < 0.2 * nbytes, second_report  # rank 1 does not own a copy
    finally:
        for proc in (first, second):
            proc.communicate("\n", timeout=30)
    records = [ImageRecord(p, w, h, np.zeros((0, 4)), []) for p, w, h in rows]
    assert not list(Path("/dev/shm").glob(f"*{cache_key(records, 1024)}*"))  # the last reader freed it


def test_abandoned_ram_cache_is_swept(records, tmp_path):
    cache = SharedImageCache.open(records, 64, "ram")
    os.close(cache._users_fd)  # what a SIGKILLed process leaves: files on /dev/shm, no lock held
    cache._users_fd = None
    assert Path(f"{cache.stem}.bin").exists()
    others = write_records(tmp_path / "other", 2)
    SharedImageCache.open(others, 64, "ram").release()
    assert not Path(f"{cache.stem}.bin").exists()


def test_ram_cache_in_use_is_not_swept(records, tmp_path):
    cache = SharedImageCache.open(records, 64, "ram")
    try:
        SharedImageCache.open(write_records(tmp_path / "other", 2), 64, "ram").release()
        assert Path(f"{cache.stem}.bin").exists() and cache.get(0).shape == (48, 64, 3)
    finally:
        cache.release()
