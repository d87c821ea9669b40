"""Every setting has one default, in turboyolo/config/default.yaml: the package source is scanned
(ast) for config reads that could see another one.

What holds a run Config: a name `cfg` or ending in `_cfg` (`run_cfg`, `trained_cfg`), or an
attribute of that name (`self.cfg`, `s.cfg`). That is the package's convention, and the scan
enforces it where it can tell (a name bound to build_config() / Config() / trained_settings() /
type(cfg)(cfg), or annotated `Config`, must follow it), so a Config cannot hide from the scan
under another name. Plain mappings that only hold some keys, with a missing key meaning
"unknown" (perf/diagnosis.py's `settings`), are not Configs and use other names.

Rules, each with the reason a user would notice:
- no `cfg.get(...)`, `cfg.setdefault(...)`, `cfg.pop(...)`, `getattr(cfg, "key", default)` or
  `"key" in cfg`: a validated Config holds every key, so these only ever hide a missing key
  behind a default of their own (`localsgd_warmup` 0 instead of 50, `rect_val` false instead of true);
- every key read (`cfg.key`, `cfg["key"]`, `getattr(cfg, "key")`) is a key of the schema;
- a component argument the package fills from a config key has no default of its own: none,
  None ("not given"), or `default_of("that key")` (read from default.yaml, never restated);
- a checkpoint's saved config (`ckpt["args"]`) is read only where it is validated like the
  command line: engine/checkpoint_settings.py (val, predict, benchmarks) and engine/resume.py.
"""
from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from turboyolo.config import Config, load_schema

PACKAGE = Path(__file__).resolve().parents[2] / "turboyolo"
HIDING_METHODS = {"get", "setdefault", "pop", "popitem"}
CONFIG_API = {name for name in dir(Config) if not name.startswith("_")} - HIDING_METHODS
CONFIG_MAKERS = {"build_config", "Config", "trained_settings"}
CASTS = {"int", "float", "bool", "str"}
SAVED_CONFIG_READERS = {"engine/checkpoint_settings.py", "engine/resume.py"}


@dataclass(frozen=True)
class Finding:
    where: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.where}:{self.line}: {self.text}"


def is_config_name(name: str) -> bool:
    return name == "cfg" or name.endswith("_cfg")


def is_config(node: ast.AST) -> bool:
    """`cfg`, `run_cfg`, `self.cfg`, `s.cfg`..."""
    if isinstance(node, ast.Name):
        return is_config_name(node.id)
    return isinstance(node, ast.Attribute) and is_config_name(node.attr)


def key_read(node: ast.AST) -> str | None:
    """The key a node reads from a Config (`cfg.key`, `cfg["key"]`, `getattr(cfg, "key")`,
    possibly inside int()/float()/bool()/str()), else None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CASTS and len(node.args) == 1:
        return key_read(node.args[0])
    if isinstance(node, ast.Attribute) and is_config(node.value) and node.attr not in CONFIG_API | HIDING_METHODS:
        return node.attr
    if isinstance(node, ast.Subscript) and is_config(node.value) and isinstance(node.slice, ast.Constant) \
            and isinstance(node.slice.value, str):
        return node.slice.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
            and len(node.args) == 2 and is_config(node.args[0]) and isinstance(node.args[1], ast.Constant):
        return node.args[1].value
    return None


def _callee_name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def _makes_config(value: ast.AST | None) -> bool:
    if not isinstance(value, ast.Call):
        return False
    if _callee_name(value.func) in CONFIG_MAKERS:
        return True
    inner = value.func  # type(cfg)(cfg): a copy of a Config
    return (isinstance(inner, ast.Call) and _callee_name(inner.func) == "type" and len(inner.args) == 1
            and is_config(inner.args[0]))


@dataclass
class Signature:
    """The parameters of one def (or a class's fields and __init__) and their defaults."""

    where: str
    params: list[str]
    defaults: dict[str, ast.AST]


def _function_signature(node: ast.FunctionDef, where: str, drop_first: bool) -> Signature:
    args = node.args
    positional = [a.arg for a in args.posonlyargs + args.args]
    defaults = dict(zip(positional[len(positional) - len(args.defaults):], args.defaults))
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    params = positional[1:] if drop_first else positional
    return Signature(where, params + [a.arg for a in args.kwonlyargs], defaults)


def _class_signature(node: ast.ClassDef, where: str) -> Signature:
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            return _function_signature(item, where, drop_first=True)
    fields = [item for item in node.body if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)]
    return Signature(where, [f.target.id for f in fields], {f.target.id: f.value for f in fields if f.value is not None})


def index_signatures(modules: dict[str, ast.Module]) -> dict[str, list[Signature]]:
    """name -> every def or class of that name in the package (a call is checked against each)."""
    index: dict[str, list[Signature]] = {}
    for rel, tree in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                index.setdefault(node.name, []).append(_class_signature(node, f"{rel}:{node.lineno}"))
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name != "__init__":
                        static = any(_callee_name(d) == "staticmethod" for d in item.decorator_list)
                        index.setdefault(item.name, []).append(
                            _function_signature(item, f"{rel}:{item.lineno}", drop_first=not static))
            elif isinstance(node, ast.FunctionDef) and not _is_method(node, tree):
                index.setdefault(node.name, []).append(_function_signature(node, f"{rel}:{node.lineno}", False))
    return index


def _is_method(func: ast.FunctionDef, tree: ast.Module) -> bool:
    return any(isinstance(parent, ast.ClassDef) and func in parent.body for parent in ast.walk(tree))


def _default_is_allowed(default: ast.AST, key: str) -> bool:
    """None (not given) or an expression of default_of(key): the documented default, not a copy."""
    if isinstance(default, ast.Constant) and default.value is None:
        return True
    return any(isinstance(n, ast.Call) and _callee_name(n.func) == "default_of" and n.args
               and isinstance(n.args[0], ast.Constant) and n.args[0].value == key for n in ast.walk(default))


class Scanner(ast.NodeVisitor):
    def __init__(self, rel: str, schema: set[str], signatures: dict[str, list[Signature]]):
        self.rel, self.schema, self.signatures = rel, schema, signatures
        self.findings: list[Finding] = []
        self.reads: list[tuple[str, int]] = []  # (key, line): every config key read seen
        self.classes: list[str] = []

    def flag(self, node: ast.AST, text: str) -> None:
        self.findings.append(Finding(self.rel, node.lineno, text))

    # --- naming: a Config is always called cfg / *_cfg -----------------------------------------
    def _check_target(self, target: ast.AST, node: ast.AST) -> None:
        name = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else None
        if name is not None and not is_config_name(name):
            self.flag(node, f"a Config is bound to '{name}': name it cfg or *_cfg so these checks see it")

    def visit_Assign(self, node: ast.Assign) -> None:
        if _makes_config(node.value):
            for target in node.targets:
                self._check_target(target, node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if _makes_config(node.value) or _callee_name(node.annotation) == "Config":
            self._check_target(node.target, node)
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        if node.annotation is not None and _callee_name(node.annotation) == "Config" and not is_config_name(node.arg):
            self.flag(node, f"parameter '{node.arg}' is annotated Config: name it cfg or *_cfg")
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.append(node.name)
        self.generic_visit(node)
        self.classes.pop()

    # --- reads -------------------------------------------------------------------------------
    def _key(self, node: ast.AST, key: str) -> None:
        self.reads.append((key, node.lineno))
        if key not in self.schema:
            self.flag(node, f"config key '{key}' is not in turboyolo/config/default.yaml")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if is_config(node.value):
            if node.attr in HIDING_METHODS:
                self.flag(node, f"cfg.{node.attr} hides a missing key behind a default: read cfg.KEY")
            elif node.attr not in CONFIG_API:
                self._key(node, node.attr)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        key = key_read(node)
        if key is not None:
            self._key(node, key)
        if isinstance(node.slice, ast.Constant) and node.slice.value == "args" and self.rel not in SAVED_CONFIG_READERS:
            self.flag(node, "a checkpoint's saved config is read outside engine/checkpoint_settings.py and "
                            "engine/resume.py: use adopt_checkpoint_settings / trained_settings (validated)")
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for op, right in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)) and is_config(right):
                self.flag(node, "a membership test on a Config: every key is always there, read cfg.KEY")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _callee_name(node.func)
        if isinstance(node.func, ast.Attribute) and is_config(node.func.value) and name in HIDING_METHODS:
            self.flag(node, f"cfg.{ast.unparse(node)[ast.unparse(node).index(name):]} hides a missing key behind "
                            "a default: read cfg.KEY")
            self.visit_list(node.args + [kw.value for kw in node.keywords])
            return
        if name == "getattr" and len(node.args) >= 2 and is_config(node.args[0]):
            if len(node.args) > 2:
                self.flag(node, "getattr(cfg, key, default) hides a missing key behind a default: read cfg.KEY")
            elif isinstance(node.args[1], ast.Constant):
                self._key(node, node.args[1].value)
        if name == "get" and isinstance(node.func, ast.Attribute) and node.args \
                and isinstance(node.args[0], ast.Constant) and node.args[0].value == "args" \
                and self.rel not in SAVED_CONFIG_READERS:
            self.flag(node, "a checkpoint's saved config is read outside engine/checkpoint_settings.py and "
                            "engine/resume.py: use adopt_checkpoint_settings / trained_settings (validated)")
        self._check_filled_defaults(node, name)
        # getattr's own arguments are visited as plain nodes (a Name cfg reads nothing)
        self.generic_visit(node)

    def visit_list(self, nodes: list[ast.AST]) -> None:
        for child in nodes:
            self.visit(child)

    def _check_filled_defaults(self, node: ast.Call, name: str | None) -> None:
        """An argument filled from a config key must not meet a default of the callee's own."""
        if name == "cls" and self.classes:
            name = self.classes[-1]
        filled = [(i, None, arg) for i, arg in enumerate(node.args)] + [(None, kw.arg, kw.value) for kw in node.keywords]
        for position, keyword, value in filled:
            key = key_read(value)
            if key is None:
                continue
            signatures = self.signatures.get(name, [])
            if keyword is None and len(signatures) != 1:
                continue  # a positional argument of an ambiguous name (two set_epoch) is not matched
            for signature in signatures:
                param = keyword if keyword is not None else (
                    signature.params[position] if position < len(signature.params) else None)
                default = signature.defaults.get(param)
                if default is not None and not _default_is_allowed(default, key):
                    self.flag(node, f"{name}({param}=cfg.{key}): {signature.where} restates a default "
                                    f"({ast.unparse(default)}); use default_of({key!r}), None or no default")


def parse_package(root: Path = PACKAGE) -> dict[str, ast.Module]:
    return {path.relative_to(root).as_posix(): ast.parse(path.read_text(), str(path))
            for path in sorted(root.rglob("*.py"))}


def scan(modules: dict[str, ast.Module], schema: set[str] | None = None) -> tuple[list[Finding], list]:
    schema = set(load_schema()) if schema is None else schema
    signatures = index_signatures(modules)
    findings, reads = [], []
    for rel, tree in modules.items():
        scanner = Scanner(rel, schema, signatures)
        scanner.visit(tree)
        findings += scanner.findings
        reads += [(rel, key, line) for key, line in scanner.reads]
    return findings, reads


def scan_source(source: str, rel: str = "snippet.py") -> list[str]:
    findings, _ = scan({rel: ast.parse(textwrap.dedent(source))})
    return [f.text for f in findings]


# --- the package ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def package_scan():
    return scan(parse_package())


def test_the_package_reads_only_schema_keys_with_no_default_of_its_own(package_scan):
    findings, _ = package_scan
    assert not findings, "\n".join(map(str, findings))


def test_the_scan_sees_the_config_reads_of_every_part_of_the_package(package_scan):
    """Guards the scan itself: a broken name rule would pass the test above by seeing nothing."""
    _, reads = package_scan
    read_in = {rel.split("/")[0] for rel, _, _ in reads}
    assert len(reads) > 200
    assert {"data", "distributed", "engine", "perf", "loss"} <= read_in
    assert any(rel == "distributed/factory.py" and key == "localsgd_warmup" for rel, key, _ in reads)
    assert any(rel == "data/dataset.py" and key == "rect_val" for rel, key, _ in reads)


def test_no_schema_key_is_shadowed_by_a_config_method():
    """cfg.KEY would return the dict method instead of the value."""
    assert not set(load_schema()) & (CONFIG_API | HIDING_METHODS)


# --- the scan on small sources: what it must catch, and what it must let through -----------------

@pytest.mark.parametrize("source, expected", [
    ('def f(cfg):\n    return cfg.get("rect_val", False)', "hides a missing key"),
    ('def f(cfg):\n    return cfg.get("device")', "hides a missing key"),
    ('def f(self):\n    return self.cfg.get("period", 4)', "hides a missing key"),
    ('def f(cfg):\n    return getattr(cfg, "period", 4)', "getattr(cfg, key, default)"),
    ('def f(cfg):\n    return cfg.setdefault("period", 4)', "hides a missing key"),
    ('def f(cfg):\n    return "period" in cfg and cfg.period', "membership test"),
    ('def f(cfg):\n    return cfg.perod', "'perod' is not in"),
    ('def f(cfg):\n    return cfg["perod"]', "'perod' is not in"),
    ('def f(cfg):\n    return getattr(cfg, "perod")', "'perod' is not in"),
    ('def f(s):\n    s.cfg.perod = 1', "'perod' is not in"),
    ('def f(run_cfg):\n    return run_cfg.perod', "'perod' is not in"),
    ('def f():\n    settings = build_config()\n    return settings', "name it cfg"),
    ('def f(cfg):\n    quick = type(cfg)(cfg)\n    return quick', "name it cfg"),
    ('def f(settings: Config):\n    return settings', "name it cfg"),
    ('class S:\n    def __init__(self, env, warmup=0):\n        self.warmup = warmup\n'
     'def make(cfg, env):\n    return S(env, warmup=cfg.localsgd_warmup)', "restates a default (0)"),
    ('def build(records, rect=False):\n    return records\n'
     'def f(cfg):\n    return build([], int(cfg.rect_val))', "restates a default (False)"),  # positional, cast
    ('def build(records, rect=False):\n    return records\n'
     'def f(cfg):\n    return build([], cfg.rect_val)', "restates a default (False)"),
    ('class P:\n    mosaic: float = 1.0\n    @classmethod\n    def from_config(cls, cfg):\n'
     '        return cls(mosaic=cfg.mosaic)', "restates a default (1.0)"),
    ('class S:\n    def __init__(self, warmup=default_of("period")):\n        pass\n'
     'def f(cfg):\n    return S(warmup=cfg.localsgd_warmup)', "restates a default"),  # another key's default
    ('def f(ckpt):\n    return ckpt["args"]["imgsz"]', "saved config is read outside"),
    ('def f(ckpt):\n    return ckpt.get("args")', "saved config is read outside"),
])
def test_the_scan_catches(source, expected):
    found = scan_source(source)
    assert any(expected in text for text in found), found


@pytest.mark.parametrize("source", [
    'def f(cfg):\n    return cfg.period, cfg["localsgd_warmup"], getattr(cfg, "sync"), "lr0" in cfg.given',
    'def f(cfg):\n    cfg.mark_given(["lr0"])\n    return dict(cfg.items())',
    'def f(run_cfg, s):\n    return run_cfg.imgsz + s.cfg.batch',
    'class S:\n    def __init__(self, env, warmup=default_of("localsgd_warmup"), rect=None, period=3):\n        pass\n'
    'def make(cfg, env):\n    return S(env, warmup=cfg.localsgd_warmup, rect=cfg.rect_val, period=2)',
    'class S:\n    def __init__(self, env, *, warmup):\n        pass\n'
    'def make(cfg, env):\n    return S(env, warmup=cfg.localsgd_warmup)',
    'def f(data_yaml, settings):\n    return data_yaml.get("names"), settings.get("workers")',  # not Configs
    'def f():\n    cfg = build_config()\n    trained_cfg = trained_settings({}, ("imgsz",))\n    return cfg, trained_cfg',
])
def test_the_scan_lets_through(source):
    assert scan_source(source) == []
