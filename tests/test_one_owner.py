"""Package hygiene: each policy is written in one file, and no public name lives on for tests alone.

Copies of a rule drift apart (issue 11 found thread counts, image extensions, FLOP counts and the
device parse each written two or three ways, some already disagreeing); these scans fail on a new copy.
"""
import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "turboyolo"

# policy -> (what writing it looks like, the files allowed to write it)
OWNERS = {
    "CPU cores a process may use": (r"sched_getaffinity|os\.cpu_count\(", {"cores.py"}),
    "image file extensions": (r"IMAGE_EXTENSIONS = |\"\.jpe?g\", \"", {"data/formats/image_probe.py"}),
    "batch -> model input": (r"div_?\(255\)|/ ?255\b", {"engine/model_input.py"}),
    "FLOP counting": (r"FlopCounterMode\(", {"perf/flops.py"}),
    "device= parsing": (r"\"cuda:\"", {"distributed/env.py"}),
    # the strategy converts when it wraps; sync_bn.py defines the conversion (and names it in its docs)
    "SyncBN conversion": (r"(?<!def )convert_sync_batchnorm\(", {"distributed/group_strategy.py",
                                                                 "distributed/sync_bn.py"}),
    "MFU": (r"/ *(self\.)?peak_flops", {"perf/flops.py"}),
}

# Public names only tests call, on purpose: the plain references the batched/multi-class code and
# pycocotools are checked against.
TEST_ORACLES = {
    "box_iou": "pairwise IoU, the reference for batched_box_iou and NMS tests",
    "nms": "single-group NMS, the reference for non_max_suppression",
    "to_coco_json": "writes an evaluator's images for the pycocotools comparison",
}


# The Python API (turboyolo/api.py and the Result objects it returns) exists for users' code to call.
USER_API = {
    "add_callback": "Detector.add_callback", "predict": "Detector.predict", "to_json": "Result.to_json",
}

# Methods a library calls by name (an interface we implement), never turboyolo itself.
LIBRARY_CALLBACKS = {
    "get_next": "onnxruntime.quantization.CalibrationDataReader (export/quantize.py)",
    "rewind": "onnxruntime.quantization.CalibrationDataReader (export/quantize.py)",
    "find_class": "pickle.Unpickler (model/foreign/restricted_pickle.py)",
    "persistent_load": "pickle.Unpickler (model/foreign/restricted_pickle.py)",
}


def _sources() -> dict[str, str]:
    return {path.relative_to(PACKAGE).as_posix(): path.read_text() for path in sorted(PACKAGE.rglob("*.py"))}


def test_each_policy_is_written_in_one_file():
    sources = _sources()
    for policy, (pattern, owners) in OWNERS.items():
        writers = {name for name, text in sources.items() if re.search(pattern, text)}
        assert writers, f"{policy}: its owner no longer matches {pattern!r}; update this test"
        assert writers <= owners, f"{policy} is written in {sorted(writers - owners)} too; call {sorted(owners)}"


def _referenced_names(sources: dict[str, str]) -> set[str]:
    names = set()
    for text in sources.values():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.alias):
                names.add(node.name.rsplit(".", 1)[-1])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"[\w.]+:\w+", node.value):
                names.add(node.value.rsplit(":", 1)[-1])  # "module:Name" registries (cli modes, strategies)
    return names


def test_every_public_name_has_a_caller_in_the_package():
    sources = _sources()
    referenced = _referenced_names(sources)
    unused = []
    for name, text in sources.items():
        for node in ast.parse(text).body:
            defs = [node] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else []
            if isinstance(node, ast.ClassDef):
                defs += [sub for sub in node.body if isinstance(sub, ast.FunctionDef)]
            unused += [f"{name}: {d.name}" for d in defs
                       if not d.name.startswith("_") and d.name not in referenced and d.name not in TEST_ORACLES
                       and d.name not in LIBRARY_CALLBACKS
                       and d.name not in USER_API]
    assert not unused, f"defined but never called by turboyolo itself (delete, or wire where it belongs): {unused}"
