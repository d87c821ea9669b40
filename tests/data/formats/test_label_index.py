"""Label index cache: a safe .npz (no pickle), keyed by the size and mtime of every input file."""
import os

import numpy as np

from turboyolo.data.formats.label_index import RawSplitBuilder, fingerprint, load_or_build


def _raw():
    builder = RawSplitBuilder("line")
    row = builder.add_image("/x/a.jpg", 64, 48, "/x/a.txt")
    builder.add_box(row, (1, 2, 3, 4), "0", 1)
    builder.problem("label_line_bad", "/x/a.txt:2", "bad")
    return builder.build()


def test_round_trip_without_pickle(tmp_path):
    inputs = [str(tmp_path / "in.txt")]
    (tmp_path / "in.txt").write_text("x")
    raw, cached = load_or_build(tmp_path / "idx.cache", inputs, _raw)
    assert not cached
    with np.load(tmp_path / "idx.cache", allow_pickle=False) as arrays:  # loads without pickle
        assert arrays["boxes"].tolist() == [[1, 2, 3, 4]]
    again, cached = load_or_build(tmp_path / "idx.cache", inputs, lambda: 1 / 0)
    assert cached and again.paths == raw.paths and again.problems == raw.problems
    assert again.labels.tolist() == ["0"] and again.ref_word == "line"


def test_changed_or_new_input_invalidates(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("x")
    key = fingerprint([str(source), str(tmp_path / "later.txt")])
    os.utime(source, ns=(5, 5))
    assert fingerprint([str(source), str(tmp_path / "later.txt")]) != key
    key = fingerprint([str(source), str(tmp_path / "later.txt")])
    (tmp_path / "later.txt").write_text("y")
    assert fingerprint([str(source), str(tmp_path / "later.txt")]) != key


def test_corrupt_cache_is_rebuilt(tmp_path):
    (tmp_path / "idx.cache").write_bytes(b"junk")
    raw, cached = load_or_build(tmp_path / "idx.cache", [], _raw)
    assert not cached and len(raw.paths) == 1
    assert load_or_build(tmp_path / "idx.cache", [], _raw)[1]
