"""`turboyolo MODE --help` lists the keys MODE reads (config/mode_keys.py): each listed key is read when
the mode runs, and the help shows only those, in aligned columns."""
from __future__ import annotations

import contextlib
import io

import pytest

from turboyolo.cli import MODES, main
from turboyolo.config import load_schema
from turboyolo.config.loader import Config
from turboyolo.config.mode_keys import MODE_KEYS, mode_keys

# listed keys a cheap run of the mode below does not reach, and why
ONLY_SOMETIMES = {
    "train": {key for key, spec in load_schema().items() if spec.section == "distributed"}  # several processes
    | {"distill", "distill_t"}  # distillation weights: read only with teacher=
    | {"max_bad_steps"},  # read only after a non-finite loss
    "export": {"calib", "calib_method", "format", "batch"},  # int8=true only; one format; batch read when given
    "prune": {"exist_ok", "data", "batch"},  # an existing out=; method=taylor's gradient images
    "convert": set(),
    "show": set(),
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 1-epoch 64 px run on 8 synthetic images: data, best.pt, and the keys train read."""
    from turboyolo.data.synth import generate_synthetic

    root = tmp_path_factory.mktemp("modes")
    data = str(generate_synthetic(root / "data", 8, 4, 64, 2, 1))  # (out, train, val, imgsz, classes, seed)
    read = run_reading(["train", f"data={data}", "imgsz=64", "batch=4", "epochs=1", "workers=0", "cache=none",
                        f"project={root / 'runs'}", "name=r", "amp=off", "plots=false", "warmup_epochs=0"])
    return root, data, root / "runs" / "r" / "weights" / "best.pt", read


def run_reading(argv: list[str]) -> set[str]:
    """Run `turboyolo argv` (it must succeed) and return the config keys it read."""
    read: set[str] = set()
    original_getitem, original_get = Config.__getitem__, Config.get

    def getitem(self, key):
        read.add(key)
        return original_getitem(self, key)

    def get(self, key, default=None):
        read.add(key)
        return original_get(self, key, default)

    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()):
        patch.setattr(Config, "__getitem__", getitem)
        patch.setattr(Config, "get", get)
        assert main(argv) == 0
    return read


def assert_reads_what_help_lists(mode: str, read: set[str]) -> None:
    missing = set(mode_keys(mode)) - read - ONLY_SOMETIMES.get(mode, set())
    assert not missing, f"`{mode} --help` lists keys {mode} did not read: {sorted(missing)}"


@pytest.mark.slow
def test_train_val_predict_export_read_the_keys_their_help_lists(tiny_run):
    root, data, best, train_read = tiny_run
    assert_reads_what_help_lists("train", train_read)
    assert_reads_what_help_lists("val", run_reading(["val", f"weights={best}", f"project={root / 'val'}"]))
    images = root / "data" / "images" / "val"
    assert_reads_what_help_lists("predict", run_reading(["predict", f"weights={best}", f"source={images}",
                                                         f"project={root / 'predict'}"]))
    pytest.importorskip("onnxruntime")
    assert_reads_what_help_lists("export", run_reading(["export", f"weights={best}"]))
    assert_reads_what_help_lists("prune", run_reading(["prune", f"weights={best}", f"out={root / 'pruned.pt'}"]))


def test_data_tools_read_the_keys_their_help_lists(tmp_path):
    assert_reads_what_help_lists("synth", run_reading(["synth", f"out={tmp_path / 's'}", "n=4", "imgsz=64"]))
    data = str(tmp_path / "s" / "data.yaml")
    assert_reads_what_help_lists("check", run_reading(["check", f"data={data}"]))
    assert_reads_what_help_lists("convert", run_reading(["convert", f"data={data}", "to=coco", f"out={tmp_path / 'c'}"]))
    assert_reads_what_help_lists("show", run_reading(["show", f"data={data}", "n=2", f"out={tmp_path / 'show.png'}"]))


def help_of(mode: str, capsys) -> str:
    assert main([mode, "--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("mode", [m for m in MODES if not MODES[m].raw_keys])
def test_mode_help_lists_only_its_keys_in_aligned_columns(mode, capsys):
    printed = help_of(mode, capsys)
    key_lines = [line for line in printed.splitlines() if line.startswith("  ") and "=" in line.split()[0]]
    listed = [line.split()[0].split("=")[0] for line in key_lines]
    assert listed == mode_keys(mode)
    text_columns = {len(line) - len(line[2:].split("  ", 1)[1].lstrip()) for line in key_lines if "  " in line[2:]}
    assert len(text_columns) == 1  # every help text starts in one column


def test_predict_help_is_short_and_names_source_not_training_keys(capsys):
    printed = help_of("predict", capsys)
    assert "source=null" in printed and "conf=null" in printed
    assert "mosaic=" not in printed and "lr0=" not in printed and "bucket_cap_mb=" not in printed


def test_every_listed_key_is_a_key():
    schema = load_schema()
    for mode, entries in MODE_KEYS.items():
        assert mode in MODES
        sections = {spec.section for spec in schema.values()}
        for entry in entries:
            assert (entry[1:-1] in sections) if entry.startswith("[") else (entry in schema), (mode, entry)


def test_mode_list_names_every_choice_of_convert_and_export(capsys):
    assert main(["help"]) == 0
    printed = capsys.readouterr().out
    convert = next(line for line in printed.splitlines() if line.startswith("  convert "))
    export = next(line for line in printed.splitlines() if line.startswith("  export "))
    assert f"to={'|'.join(load_schema()['to'].choices)}" in convert
    assert f"format={'|'.join(load_schema()['format'].choices)}" in export
