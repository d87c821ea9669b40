"""An exported file describes itself: metadata written is read back as a checkpoint-like dict, and a
file without it (or not ONNX at all) is refused by val/predict/export in one line."""
from __future__ import annotations

import onnx
import pytest

from tests.export.onnx_graphs import reshaping_detector
from turboyolo.cli import main
from turboyolo.engine.weights import load_weights
from turboyolo.export.metadata import copy_metadata, write_metadata

ENTRIES = {"names": ["red", "green"], "imgsz": 96, "stride": 32, "strides": [8, 16, 32],
           "spec": {"reg_max": 16, "layers": [[-1, 1, "Conv", [16, 3, 2]]]},
           "args": {"imgsz": 96, "data": "/data/d.yaml", "rect_val": False, "conf": None}, "precision": "fp32",
           "source": "best.pt"}


def test_metadata_written_is_read_back_and_other_tools_entries_kept(tmp_path):
    model = reshaping_detector(1)
    other = model.metadata_props.add()
    other.key, other.value = "author", "someone else's tool"
    write_metadata(model, ENTRIES)
    onnx.save(model, str(tmp_path / "m.onnx"))
    meta = load_weights(tmp_path / "m.onnx")
    assert {key: meta[key] for key in ENTRIES} == ENTRIES and meta["onnx"] == str(tmp_path / "m.onnx")
    int8 = reshaping_detector(1)
    copy_metadata(onnx.load(str(tmp_path / "m.onnx")), int8, precision="int8")
    onnx.save(int8, str(tmp_path / "int8.onnx"))
    assert load_weights(tmp_path / "int8.onnx")["precision"] == "int8"
    assert load_weights(tmp_path / "int8.onnx")["spec"] == ENTRIES["spec"]
    assert {p.key: p.value for p in int8.metadata_props}["author"] == "someone else's tool"


@pytest.mark.parametrize("content, says", [
    (None, "an ONNX model without turboyolo's metadata"),  # another exporter's model
    (b"not protobuf at all \xff\xfe", "cannot be read as an ONNX model"),
])
@pytest.mark.parametrize("mode", ["val", "predict"])
def test_an_onnx_file_turboyolo_did_not_write_is_refused_in_one_line(tmp_path, capsys, content, says, mode):
    path = tmp_path / "foreign.onnx"
    if content is None:
        onnx.save(reshaping_detector(1), str(path))
    else:
        path.write_bytes(content)
    (tmp_path / "image.png").write_bytes(b"")
    assert main([mode, f"weights={path}", f"source={tmp_path / 'image.png'}"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err and str(path) in err

