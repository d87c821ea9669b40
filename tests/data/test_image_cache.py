import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest

from turboyolo.data import image_cache
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
    assert not list(Path("/dev/shm").glob(f"**/*{cache_key(records, 1024)}*"))  # the last reader freed it


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


# --- a machine shared with other users: /dev/shm holds their files too ------------------------------------
OTHER_UID = 54321  # a user id that is not ours (we run as root in CI, so os.chown can hand files to it)


def _plant_cache_files(stem: Path, owner: int, layout_rows: int = 3) -> list[Path]:
    """What another user's run leaves at `stem`: an abandoned cache (bogus layout), owned by `owner`."""
    files = [Path(f"{stem}{suffix}") for suffix in (".bin", ".index.npy", ".lock", ".users")]
    for path in files:
        path.write_bytes(b"")
    with files[1].open("wb") as fh:
        np.save(fh, np.zeros((layout_rows, 3), np.int64))
    for path in files:
        os.chown(path, owner, owner)
    return files


@pytest.fixture
def shm(tmp_path, monkeypatch):
    """A stand-in for /dev/shm: world-writable with the sticky bit."""
    folder = tmp_path / "shm"
    folder.mkdir()
    folder.chmod(0o1777)
    monkeypatch.setattr(image_cache, "SHM_DIR", folder)
    return folder


@pytest.mark.skipif(os.getuid() != 0, reason="handing a file to another user needs root")
def test_sweep_leaves_other_users_caches_alone(shm):
    theirs = _plant_cache_files(shm / "turboyolo-images-0123456789abcdef0123", OTHER_UID)  # abandoned: unlocked
    assert image_cache.sweep_stale_ram_caches(shm) == 0
    assert all(path.exists() for path in theirs)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to switch to an unprivileged user")
def test_ram_cache_works_as_a_user_who_cannot_open_anothers_files():
    """The reported crash: an unprivileged user's run met another user's (unreadable) cache in /dev/shm."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="turboyolo-test-shm-", dir="/tmp"))
    try:
        folder.chmod(0o1777)
        records = write_records(folder / "images", 3)
        (folder / "images").chmod(0o755)
        for path in _plant_cache_files(folder / "turboyolo-images-0123456789abcdef0123", 0):
            path.chmod(0o600)  # root's files, private: opening them as another user is a PermissionError
        child = textwrap.dedent(
            """
            import json, mmap, os, sys  # (mmap: imported while the interpreter files are readable)
            import numpy as np
            from pathlib import Path
            from turboyolo.data import image_cache
            from turboyolo.data.records import ImageRecord
            image_cache.SHM_DIR = Path(sys.argv[1])
            records = [ImageRecord(p, 80, 60, np.zeros((0, 4)), []) for p in json.loads(sys.argv[2])]
            os.setgid(65534); os.setuid(65534)  # everything is imported: now become an ordinary user
            cache = image_cache.SharedImageCache.open(records, 64, "ram")
            print(cache.get(0).shape, str(cache.stem.parent))
            cache.release()
            """
        )
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]),
                   TURBOYOLO_CACHE=str(folder / "cache"))
        done = subprocess.run([sys.executable, "-c", child, str(folder), json.dumps([r.path for r in records])],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split()[-1] == str(folder / "turboyolo-65534")  # its own private folder
        assert Path(folder / "turboyolo-images-0123456789abcdef0123.bin").exists()  # root's cache untouched
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(os.getuid() != 0, reason="handing a file to another user needs root")
def test_cache_files_another_user_planted_under_our_name_are_not_used(records, shm, tmp_path):
    """Another user got there first: owns the folder the cache would use and planted a bogus cache (wrong layout)
    under the exact name the cache would choose. The cache must neither read it nor crash on it."""
    first = SharedImageCache.open(records, 64, "ram")
    stem = first.stem
    first.release()
    os.chown(stem.parent, OTHER_UID, OTHER_UID)
    stem.parent.chmod(0o1777)
    planted = _plant_cache_files(stem, OTHER_UID)
    cache = SharedImageCache.open(records, 64, "ram", cache_dir=str(tmp_path / "own-cache"))
    try:
        for record in records:
            assert np.array_equal(cache.get(cache.slot(record.path)), read_resized(record.path, 80, 60, 64))
        assert all(path.exists() for path in planted)  # theirs: neither used nor removed
        assert Path(f"{stem}.bin").stat().st_size == 0
    finally:
        cache.release()


def test_private_shm_folder_is_ours_and_closed_to_others(shm):
    folder = image_cache.private_shm_dir()
    assert folder == shm / f"turboyolo-{os.getuid()}"
    assert folder.stat().st_mode & 0o777 == 0o700 and folder.stat().st_uid == os.getuid()
    folder.chmod(0o777)  # opened up (by us or anyone): files in it may be another user's now
    assert image_cache.private_shm_dir() is None
