"""`turboyolo predict`: the user's imgsz is used, and images with one name in several folders stay apart."""
from __future__ import annotations

import json
import warnings

import cv2
import numpy as np
import torch

from turboyolo.cli import main
from turboyolo.engine.checkpoint import atomic_save
from turboyolo.data.sources import list_sources
from turboyolo.model.build import build_model

TRAINED_IMGSZ = 64


def write_checkpoint(path):
    """An untrained detector with class biases at 0: it emits many boxes, wherever they fall."""
    torch.manual_seed(0)
    model = build_model("n", 2)
    with torch.no_grad():
        for tower in model.head.cls_towers:
            tower[-1].bias.zero_()
    atomic_save({"model": model.state_dict(), "spec": model.spec, "names": ["a", "b"],
                 "args": {"imgsz": TRAINED_IMGSZ, "amp": "off"}}, path)
    return path


def write_image(path, seed: int, size=(48, 80)):
    """size: (height, width)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8))


def predict(tmp_path, name: str, *keys: str) -> dict:
    assert main(["predict", f"weights={tmp_path / 'w.pt'}", f"project={tmp_path / 'out'}", f"name={name}", *keys]) == 0
    return json.loads((tmp_path / "out" / name / "predictions.json").read_text())


def test_predict_uses_the_users_imgsz_else_the_checkpoints(tmp_path, capsys):
    write_checkpoint(tmp_path / "w.pt")
    for i in range(2):
        write_image(tmp_path / "images" / f"{i}.png", i)
    source = f"source={tmp_path / 'images'}"
    default = predict(tmp_path, "default", source)
    default_log = capsys.readouterr().out
    larger = predict(tmp_path, "larger", source, "imgsz=128")
    larger_log = capsys.readouterr().out
    assert larger != default and sum(len(boxes) for boxes in larger.values()) > 0
    assert predict(tmp_path, "same", source, f"imgsz={TRAINED_IMGSZ}") == default
    assert f"from the checkpoint: imgsz={TRAINED_IMGSZ}, amp=off" in default_log
    assert f"imgsz=128 (trained with {TRAINED_IMGSZ})" in larger_log


def test_same_file_name_in_two_folders_keeps_both_results(tmp_path):
    write_checkpoint(tmp_path / "w.pt")
    write_image(tmp_path / "src" / "day" / "img.png", 1)
    write_image(tmp_path / "src" / "night" / "img.png", 2, size=(40, 64))
    results = predict(tmp_path, "run", f"source={tmp_path / 'src' / '*' / 'img.png'}", "save_txt=true", "conf=0.3")
    assert sorted(results) == ["day/img.png", "night/img.png"] and results["day/img.png"] != results["night/img.png"]
    out = tmp_path / "out" / "run"
    assert cv2.imread(str(out / "day" / "img.png")).shape == (48, 80, 3)
    assert cv2.imread(str(out / "night" / "img.png")).shape == (40, 64, 3)
    assert (out / "day" / "img.txt").is_file() and (out / "night" / "img.txt").is_file()


def test_list_sources_names(tmp_path):
    for folder in ("a", "b", "b/deeper"):
        write_image(tmp_path / folder / "x.png", 0)
    assert [s.name for s in list_sources(str(tmp_path / "a"))] == ["x.png"]
    assert [s.name for s in list_sources(str(tmp_path / "a" / "x.png"))] == ["x.png"]
    assert [s.name for s in list_sources(str(tmp_path / "*" / "x.png"))] == ["a/x.png", "b/x.png"]
    assert [s.name for s in list_sources(str(tmp_path / "b" / "*" / "x.png"))] == ["x.png"]  # one folder matched
    assert [s.name for s in list_sources(str(tmp_path / "b" / "**" / "x.png"))] == ["x.png"]


VIDEO_FPS, VIDEO_SECONDS, VIDEO_SIZE = 10, 2, (48, 80)  # size: (height, width)


def write_video(path, seconds: int = VIDEO_SECONDS, fps: int = VIDEO_FPS, size=VIDEO_SIZE):
    """A video of random frames, written as a user's camera would leave it (mp4v in .mp4)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size[1], size[0]))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for _ in range(seconds * fps):
        writer.write(rng.integers(0, 255, (*size, 3), dtype=np.uint8))
    writer.release()
    return path


def read_video(path) -> tuple[int, float, tuple[int, int]]:
    """(frames decoded, fps, (height, width)) of a video file."""
    capture = cv2.VideoCapture(str(path))
    frames, shape = 0, None
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames, shape = frames + 1, image.shape[:2]
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps, shape


def test_a_video_is_predicted_into_an_annotated_video_with_every_frame(tmp_path, capsys):
    write_checkpoint(tmp_path / "w.pt")
    video = write_video(tmp_path / "clip.mp4")
    predict(tmp_path, "run", f"source={video}", "save_txt=true")
    out = tmp_path / "out" / "run"
    assert read_video(out / "clip.mp4") == (VIDEO_FPS * VIDEO_SECONDS, VIDEO_FPS, VIDEO_SIZE)
    lines = [json.loads(line) for line in (out / "clip.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(VIDEO_FPS * VIDEO_SECONDS))
    assert sum(len(line["detections"]) for line in lines) > 0
    assert len(list((out / "clip").glob("*.txt"))) == VIDEO_FPS * VIDEO_SECONDS  # per-frame labels
    assert "20 frames -> clip.mp4" in capsys.readouterr().out


def test_vid_stride_halves_the_frames_and_keeps_the_duration(tmp_path):
    write_checkpoint(tmp_path / "w.pt")
    video = write_video(tmp_path / "clip.mp4")
    predict(tmp_path, "run", f"source={video}", "vid_stride=2")
    out = tmp_path / "out" / "run"
    assert read_video(out / "clip.mp4") == (VIDEO_FPS * VIDEO_SECONDS // 2, VIDEO_FPS / 2, VIDEO_SIZE)
    frames = [json.loads(line)["frame"] for line in (out / "clip.jsonl").read_text().splitlines()]
    assert frames == list(range(0, VIDEO_FPS * VIDEO_SECONDS, 2))


def test_a_folder_of_images_and_videos_predicts_both(tmp_path):
    write_checkpoint(tmp_path / "w.pt")
    write_video(tmp_path / "src" / "a.mp4", seconds=1)
    write_video(tmp_path / "src" / "b.avi", seconds=1)  # another container, written as mp4 too
    write_image(tmp_path / "src" / "c.png", 0)
    results = predict(tmp_path, "run", f"source={tmp_path / 'src'}")
    out = tmp_path / "out" / "run"
    assert list(results) == ["c.png"] and (out / "c.png").is_file()
    assert read_video(out / "a.mp4")[0] == VIDEO_FPS and read_video(out / "b.mp4")[0] == VIDEO_FPS


def all_detections(results: dict) -> list[dict]:
    return [d for detections in results.values() for d in detections]


def test_classes_keeps_only_the_given_classes(tmp_path, capsys):
    write_checkpoint(tmp_path / "w.pt")
    for i in range(2):
        write_image(tmp_path / "images" / f"{i}.png", i)
    source = f"source={tmp_path / 'images'}"
    every = {d["class"] for d in all_detections(predict(tmp_path, "all", source))}
    assert every == {0, 1}  # the filter below has something to remove
    only = all_detections(predict(tmp_path, "only1", source, "classes=1"))
    assert only and {d["class"] for d in only} == {1}
    capsys.readouterr()
    assert main(["predict", f"weights={tmp_path / 'w.pt'}", source, f"project={tmp_path / 'out'}", "classes=0,5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "classes=0,5" in err and "2 classes" in err


def test_save_txt_reads_back_as_training_labels_unless_save_conf(tmp_path):
    """Pseudo-labelling: the predicted txt files are labels our own YOLO reader accepts, boxes intact."""
    from turboyolo.data.formats import load_dataset

    write_checkpoint(tmp_path / "w.pt")
    write_image(tmp_path / "images" / "a.png", 0)
    results = predict(tmp_path, "run", f"source={tmp_path / 'images'}", "save_txt=true")
    root = tmp_path / "pseudo"
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "images" / "train" / "a.png").write_bytes((tmp_path / "images" / "a.png").read_bytes())
    (root / "labels" / "train" / "a.txt").write_text((tmp_path / "out" / "run" / "a.txt").read_text())
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\nnames: [a, b]\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an untrained model's boxes clip to equal ones at the border
        data = load_dataset(str(root / "data.yaml"), verbose=False)
    assert set(data.report.counts) <= {"box_duplicate"}  # every line read as a label
    record = data.split("train")[0]
    predicted = {(d["class"], *d["box_xyxy"]) for d in results["a.png"]}
    read_back = {(c, *b) for c, b in zip(record.classes.tolist(), record.boxes.tolist())}
    assert len(read_back) == len(predicted) > 1
    for label in read_back:  # each read-back label is a predicted box (txt keeps 6 decimals)
        assert min(np.abs(np.subtract(label, box)).max() for box in predicted) < 0.05
    predict(tmp_path, "conf", f"source={tmp_path / 'images'}", "save_txt=true", "save_conf=true")
    columns = {len(line.split()) for line in (tmp_path / "out" / "conf" / "a.txt").read_text().splitlines()}
    assert columns == {6}


def test_predict_writes_runs_predict_exp_folders_in_turn(tmp_path, monkeypatch):
    write_checkpoint(tmp_path / "w.pt")
    write_image(tmp_path / "images" / "a.png", 0)
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["predict", "weights=w.pt", "source=images"]) == 0
    assert sorted(p.name for p in (tmp_path / "runs" / "predict").iterdir()) == ["exp", "exp2"]
    assert (tmp_path / "runs" / "predict" / "exp2" / "a.png").is_file()
