"""benchmarks/progressive.py on a tiny synthetic config: both arms run alternately and the JSON holds the comparison."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))


@pytest.mark.slow
def test_progressive_benchmark_compares_arms_and_writes_json(tmp_path):
    import progressive as bench  # benchmarks/progressive.py
    from turboyolo.data.synth import generate_synthetic

    data = generate_synthetic(tmp_path / "synth", n_train=8, n_val=4, imgsz=64, nc=2, seed=1)
    out = tmp_path / "progressive.json"
    assert bench.main([f"data={data}", "imgsz=64", "batch=8", "epochs=2", "workers=0", "cache=none", "close_mosaic=0",
                       "amp=off", "verbose=false", f"project={tmp_path}", "progressive=0.5", "target=0.0",
                       f"out={out}"]) == 0
    result = json.loads(out.read_text())
    fixed, progressive = result["runs"]["fixed"][0], result["runs"]["progressive"][0]
    assert fixed["train_imgsz"] == [64, 64] and progressive["train_imgsz"] == [32, 64]
    assert fixed["time_to_target_s"] > 0 and fixed["epoch_of_target"] == 1  # target 0: the first validation
    assert set(result["median"]) == {"fixed", "progressive"} and result["machine"]
