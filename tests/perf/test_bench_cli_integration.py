"""`turboyolo bench scaling` measures 1 and 2 processes with the real trainer."""
import json

import pytest

from tests.perf.test_bench_cli import _ours, private_tempdir  # noqa: F401 (a fixture)
from turboyolo.config import build_config
from turboyolo.perf import bench_cli



@pytest.mark.slow
@pytest.mark.dist
def test_bench_scaling_measures_one_and_two_processes(tmp_path, private_tempdir):
    out = tmp_path / "scaling.json"
    cfg = build_config({"model": "n", "imgsz": "32", "batch": "4", "bench_steps": "1", "nproc": "1,2",
                        "data": "synthetic", "out": str(out)}, sweeps={"nproc"})
    assert bench_cli.run(cfg, ["scaling"]) == 0
    runs = json.loads(out.read_text())["runs"]
    assert [(r["nproc"], r["per_process_batch"]) for r in runs] == [(1, 4), (2, 2), (2, 4)]
    assert all(r["images_per_s"] > 0 and r["speedup"] > 0 for r in runs)
    assert all(r["predicted_speedup"] > 0 for r in runs if r["nproc"] == 2)
    assert _ours(private_tempdir) == []
