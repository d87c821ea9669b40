"""`turboyolo eval-coco` prints pycocotools' 12 numbers as its table (or, --json / out=, one JSON object)."""
import json

import numpy as np

from coco_cases import pycocotools_eval, random_case
from turboyolo.cli import main


def test_eval_coco_prints_pycocotools_stats(tmp_path, capsys):
    gt_dataset, results = random_case(5)
    (tmp_path / "gt.json").write_text(json.dumps(gt_dataset))
    (tmp_path / "dets.json").write_text(json.dumps(results))
    code = main(["eval-coco", f"gt={tmp_path / 'gt.json'}", f"pred={tmp_path / 'dets.json'}", "per_class=true", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(report["stats"], pycocotools_eval(gt_dataset, results).stats, atol=1e-4)
    assert len(report["stat_names"]) == 12 and len(report["per_class_ap"]) == len(gt_dataset["categories"])


def test_eval_coco_usage_errors(tmp_path, capsys):
    assert main(["eval-coco", "gt=only.json"]) == 2
    assert "usage" in capsys.readouterr().err
    assert main(["eval-coco", f"gt={tmp_path / 'missing.json'}", f"pred={tmp_path / 'missing.json'}"]) == 1


def test_eval_coco_prints_the_familiar_table_with_class_names(tmp_path, capsys):
    gt_dataset, results = random_case(5)
    (tmp_path / "gt.json").write_text(json.dumps(gt_dataset))
    (tmp_path / "dets.json").write_text(json.dumps(results))
    out = tmp_path / "metrics.json"
    assert main(["eval-coco", f"gt={tmp_path / 'gt.json'}", f"pred={tmp_path / 'dets.json'}", f"out={out}"]) == 0
    printed = capsys.readouterr().out
    stats = pycocotools_eval(gt_dataset, results).stats
    assert f" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = {stats[0]:.3f}" in printed
    assert f" Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = {stats[11]:.3f}" in printed
    for category in gt_dataset["categories"]:
        assert f"\n{category['name']} " in printed
    np.testing.assert_allclose(json.loads(out.read_text())["stats"], stats, atol=1e-4)  # out= for machines


def test_eval_coco_help_documents_its_keys(capsys):
    assert main(["eval-coco", "--help"]) == 0
    printed = capsys.readouterr().out
    for key in ("gt=GT.json", "pred=DETS.json", "--json", "out=FILE.json"):
        assert f"\n  {key} " in printed
