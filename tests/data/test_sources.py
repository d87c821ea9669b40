"""What predict reads: images, videos, folders and globs of both, cameras and stream URLs, as frames."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from turboyolo.data.sources import Frame, batched, iter_frames, list_sources, stream_name


def write_video(path, frames: int, fps: int = 10, size=(32, 48)):
    """size: (height, width); frame k is filled with grey level 10 * k, so frames can be told apart."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size[1], size[0]))
    for k in range(frames):
        writer.write(np.full((*size, 3), 10 * k, np.uint8))
    writer.release()
    return path


def test_a_folder_lists_images_and_videos_sorted_and_skips_other_files(tmp_path):
    write_video(tmp_path / "b.mp4", 2)
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "notes.txt").write_text("x")
    assert [(i.name, i.kind) for i in list_sources(str(tmp_path))] == [("a.png", "image"), ("b.mp4", "video")]
    assert [i.kind for i in list_sources(str(tmp_path / "*.mp4"))] == ["video"]


def test_cameras_and_urls_are_streams_with_readable_names(tmp_path):
    assert [(i.path, i.name, i.kind) for i in list_sources("0")] == [("0", "camera0", "stream")]
    assert list_sources("rtsp://cam.local:554/live/front?x=1")[0].name == "front"
    assert stream_name("http://host:8080") == "stream"


def test_an_empty_source_says_what_it_accepts(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no images or videos found.*\.mp4.*camera index"):
        list_sources(str(tmp_path))


def test_video_frames_come_in_order_and_vid_stride_skips(tmp_path):
    items = list_sources(str(write_video(tmp_path / "clip.mp4", 7, fps=5)))
    frames = list(iter_frames(items, vid_stride=3))
    assert [f.index for f in frames] == [0, 3, 6] and {f.name for f in frames} == {"clip.mp4"}
    assert [round(float(f.image.mean()) / 10) for f in frames] == [0, 3, 6]  # the right frames, not the first three
    assert frames[0].video.fps == 5 and (frames[0].video.height, frames[0].video.width, frames[0].video.frames) == (32, 48, 7)


def test_a_source_that_cannot_be_read_is_one_line_alone_and_skipped_among_others(tmp_path, capsys):
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(FileNotFoundError, match="cannot open this video"):
        list(iter_frames(list_sources(str(tmp_path / "broken.mp4"))))
    cv2.imwrite(str(tmp_path / "ok.png"), np.zeros((8, 8, 3), np.uint8))
    frames = list(iter_frames(list_sources(str(tmp_path))))
    assert [f.name for f in frames] == ["ok.png"] and "skipping" in capsys.readouterr().err


def test_batched_keeps_order_and_the_short_last_batch():
    frames = [Frame(np.zeros((2, 2, 3), np.uint8), str(k)) for k in range(5)]
    assert [[f.name for f in batch] for batch in batched(frames, 2)] == [["0", "1"], ["2", "3"], ["4"]]
