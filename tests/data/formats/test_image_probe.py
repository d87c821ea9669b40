"""Image header probe: sizes without decoding, truncation and garbage caught, EXIF rotation honoured."""
import struct

import cv2

from tests.data.dataset_fixtures import write_image
from turboyolo.data.formats.image_probe import probe_image, probe_images, scan_image_folder


def test_sizes_from_headers(tmp_path):
    for ext in (".jpg", ".png", ".bmp", ".webp"):
        probe = probe_image(str(write_image(tmp_path / f"a{ext}", 70, 50)))
        assert (probe.width, probe.height, probe.error) == (70, 50, None), ext


def test_truncated_and_garbage_files_are_errors(tmp_path):
    for ext in (".jpg", ".png"):
        data = write_image(tmp_path / f"full{ext}", 80, 60).read_bytes()
        (tmp_path / f"cut{ext}").write_bytes(data[: len(data) // 2])
        assert "truncated" in probe_image(str(tmp_path / f"cut{ext}")).error
    (tmp_path / "text.jpg").write_bytes(b"not an image at all")
    (tmp_path / "empty.png").write_bytes(b"")
    assert probe_image(str(tmp_path / "text.jpg")).error
    assert probe_image(str(tmp_path / "empty.png")).error == "empty file"
    assert probe_image(str(tmp_path / "missing.jpg")).error


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an APP1 Exif segment holding only the orientation tag right after SOI."""
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def test_exif_rotation_swaps_width_and_height_like_cv2(tmp_path):
    jpeg = write_image(tmp_path / "plain.jpg", 80, 40).read_bytes()
    rotated = tmp_path / "rotated.jpg"
    rotated.write_bytes(_with_exif_orientation(jpeg, 6))
    probe = probe_image(str(rotated))
    assert (probe.width, probe.height) == (40, 80)
    assert cv2.imread(str(rotated)).shape[:2] == (80, 40)  # what the loader will decode


def test_many_images_in_threads_keep_order(tmp_path):
    paths = [str(write_image(tmp_path / f"{i}.jpg", 20 + i, 30)) for i in range(40)]
    assert [p.width for p in probe_images(paths)] == [20 + i for i in range(40)]


def test_scan_folder_finds_images_and_unsupported(tmp_path):
    write_image(tmp_path / "sub" / "a.jpg")
    (tmp_path / "b.gif").write_bytes(b"GIF89a")
    (tmp_path / "notes.txt").write_text("x")
    images, unsupported = scan_image_folder(str(tmp_path))
    assert [p.endswith("a.jpg") for p in images] == [True]
    assert [p.endswith("b.gif") for p in unsupported] == [True]


def test_jpeg_missing_only_its_end_marker_is_kept_with_a_warning(tmp_path):
    data = write_image(tmp_path / "full.jpg", 120, 90).read_bytes()
    assert data.endswith(b"\xff\xd9")
    (tmp_path / "no_eoi.jpg").write_bytes(data[:-2])  # every image byte there, only the marker cut
    probe = probe_image(str(tmp_path / "no_eoi.jpg"))
    assert (probe.width, probe.height, probe.error) == (120, 90, None)
    assert probe.warning[0] == "image_end_marker_missing"
    decoded = cv2.imread(str(tmp_path / "no_eoi.jpg"))
    assert (decoded == cv2.imread(str(tmp_path / "full.jpg"))).all()  # what training will see


def test_jpeg_that_lost_image_data_is_still_skipped(tmp_path):
    data = write_image(tmp_path / "full.jpg", 120, 90).read_bytes()
    for cut in (3, 40, len(data) // 3):  # the last image byte, a few blocks, most of the image
        (tmp_path / "cut.jpg").write_bytes(data[:-cut])
        probe = probe_image(str(tmp_path / "cut.jpg"))
        assert probe.error and "truncated" in probe.error and probe.warning is None, cut
