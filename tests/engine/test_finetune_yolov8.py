"""`turboyolo train model=yolov8n.pt`: an Ultralytics checkpoint is imported, then fine-tuned like one of ours."""
from __future__ import annotations

import pytest
import torch

from tests.model.foreign import ultralytics_fakes as fakes
from turboyolo.cli import main
from turboyolo.config import ConfigError, build_config
from turboyolo.engine.checkpoint import load_checkpoint
from turboyolo.engine.finetune import build_start_model
from turboyolo.model.foreign import RefusedPickleError
from turboyolo.model.spec import SpecError
from turboyolo.model.transfer import class_output_keys

WHERE = "https://github.com/ultralytics/assets/releases"


@pytest.fixture(scope="module")
def yolov8n(tmp_path_factory):
    model = fakes.build_fake("n", nc=80)
    path = tmp_path_factory.mktemp("yolov8") / "yolov8n.pt"
    fakes.write_checkpoint(path, model)
    return path, model.state_dict()


def test_coco_checkpoint_onto_three_classes_keeps_all_but_the_class_towers(yolov8n, capsys):
    path, theirs = yolov8n
    model = build_start_model(str(path), ["cell", "platelet", "rbc"], freeze=0, verbose=True)
    imported, finetuning = capsys.readouterr().out.strip().splitlines()
    assert imported.startswith("imported yolov8n.pt (Ultralytics YOLOv8n 8.0.0, 80 classes): 354/354")
    # 80 classes widen the class towers to 80 channels, 3 classes leave them at 64: those start fresh
    assert finetuning.startswith(f"fine-tuning from {path} (80 classes -> 3): 319 tensors loaded, 6 re-initialised "
                                 "(class outputs), 30 skipped")
    assert model.names == ["cell", "platelet", "rbc"] and model.num_classes == 3
    state = model.state_dict()
    assert torch.equal(state["layers.0.conv.weight"], theirs["model.0.conv.weight"])
    assert torch.equal(state["head.box_towers.2.2.bias"], theirs["model.22.cv2.2.2.bias"])
    assert not any(torch.equal(state[k], theirs[k.replace("head.cls_towers", "model.22.cv3")])
                   for k in class_output_keys(model) if k.endswith("bias"))


def test_same_coco_classes_keep_their_class_outputs(yolov8n, capsys):
    path, theirs = yolov8n
    names = [fakes.COCO_LIKE_NAMES[i] for i in range(80)]
    model = build_start_model(str(path), names, freeze=10, verbose=True)
    assert "355 tensors loaded, 0 re-initialised (class outputs), 0 skipped" in capsys.readouterr().out
    assert torch.equal(model.state_dict()["head.cls_towers.0.2.weight"], theirs["model.22.cv3.0.2.weight"])
    assert not any(p.requires_grad for p in model.layers[:10].parameters())


def test_a_malicious_checkpoint_given_as_model_is_refused_in_one_line(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            import os
            return os.system, (f"touch {marker}",)

    fakes.write_checkpoint(tmp_path / "yolov8n.pt", fakes.build_fake("n", nc=2), optimizer=Payload())
    with pytest.raises(RefusedPickleError, match=r"^model=.*yolov8n.pt: refused: the file asks to run posix.system"):
        build_start_model(str(tmp_path / "yolov8n.pt"), ["a"], freeze=0, verbose=False)
    assert not marker.exists()


def test_missing_or_unknown_weights_say_where_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"model=yolov8s.pt: no such checkpoint; nothing is downloaded here.*{WHERE}"):
        build_start_model("yolov8s.pt", ["a"], freeze=0, verbose=False)
    with pytest.raises(SpecError, match=f"model=yolov8s: neither a scale nor a model YAML file.*{WHERE}"):
        build_start_model("yolov8s", ["a"], freeze=0, verbose=False)
    with pytest.raises(ConfigError, match=f"pretrained='yolov8s'.*{WHERE}"):
        build_config({"pretrained": "yolov8s"})


@pytest.mark.slow
def test_train_from_a_yolov8_checkpoint_end_to_end(yolov8n, tmp_path, capsys):
    from turboyolo.data.synth import generate_synthetic

    data = generate_synthetic(tmp_path / "synth", n_train=8, n_val=4, imgsz=64, nc=2, seed=5)
    path, theirs = yolov8n
    code = main(["train", f"data={data}", f"model={path}", "epochs=1", "imgsz=64", "batch=8", "workers=0",
                 "cache=none", f"project={tmp_path / 'runs'}", "plots=false"])
    out = capsys.readouterr().out
    assert code == 0
    assert "imported yolov8n.pt (Ultralytics YOLOv8n 8.0.0, 80 classes): 354/354" in out
    best = load_checkpoint(tmp_path / "runs" / "exp" / "weights" / "best.pt")
    assert best["spec"]["scale"] == "n" and len(best["names"]) == 2
    # one epoch of fine-tuning moves the weights, but they are the imported ones moved, not fresh ones
    start, trained = theirs["model.0.conv.weight"].float(), best["model"]["layers.0.conv.weight"]
    assert torch.nn.functional.cosine_similarity(start.flatten(), trained.flatten(), dim=0) > 0.9
