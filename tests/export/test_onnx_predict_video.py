"""`turboyolo predict weights=best.onnx source=clip.mp4`: an exported model annotates a video as its checkpoint does."""
from __future__ import annotations

import json

import pytest

from tests.engine.test_predict_cli import VIDEO_FPS, VIDEO_SIZE, read_video, write_video
from turboyolo.cli import main

pytest.importorskip("onnxruntime")


@pytest.mark.slow
def test_onnx_weights_predict_a_video_like_their_checkpoint(lively, tmp_path):
    video = write_video(tmp_path / "clip.mp4", seconds=1)
    detections = {}
    for kind in ("pt", "onnx"):
        assert main(["predict", f"weights={lively[kind]}", f"source={video}", f"project={tmp_path}", f"name={kind}",
                     "vid_stride=2", "verbose=false"]) == 0
        assert read_video(tmp_path / kind / "clip.mp4") == (VIDEO_FPS // 2, VIDEO_FPS / 2, VIDEO_SIZE)
        lines = (tmp_path / kind / "clip.jsonl").read_text().splitlines()
        detections[kind] = [len(json.loads(line)["detections"]) for line in lines]
    assert detections["onnx"] == detections["pt"] and sum(detections["pt"]) > 0
