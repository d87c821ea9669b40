import pytest

from turboyolo.config import ConfigError, build_config, load_schema
from turboyolo.cli import main


def test_every_key_documented_and_defaults_valid():
    schema = load_schema()
    assert len(schema) > 50
    for key, spec in schema.items():
        assert spec.help, key
        # typed on the command line, each default passes its own key's validation (type, range,
        # choices) and comes back unchanged: a default outside its documented range fails here
        typed = "null" if spec.default is None else str(spec.default)
        assert build_config({key: typed})[key] == spec.default, key


def test_cli_values_are_typed():
    cfg = build_config({"epochs": "3", "lr0": "0.02", "nesterov": "False", "name": "x"})
    assert cfg.epochs == 3 and cfg.lr0 == 0.02 and cfg.nesterov is False and cfg.name == "x"


def test_unknown_key_suggests_closest():
    with pytest.raises(ConfigError, match="did you mean.*lr0"):
        build_config({"lr00": "1"})


def test_out_of_range_names_key_and_range():
    with pytest.raises(ConfigError, match=r"mosaic=.*\[0, 1\]"):
        build_config({"mosaic": "1.5"})
    with pytest.raises(ConfigError, match="optimizer"):
        build_config({"optimizer": "lion"})
    with pytest.raises(ConfigError, match="epochs"):
        build_config({"epochs": "2.5"})


def test_cfg_file_then_cli_override(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 7\nlr0: 0.1\n")
    cfg = build_config({"cfg": str(path), "lr0": "0.2"})
    assert cfg.epochs == 7 and cfg.lr0 == 0.2
    path.write_text("epoch: 7\n")
    with pytest.raises(ConfigError, match=str(path)):
        build_config({"cfg": str(path)})


def test_comma_list_only_for_a_declared_sweep(tmp_path):
    assert build_config({"nproc": "1,2"}, sweeps={"nproc"}).nproc == [1, 2]
    with pytest.raises(ConfigError, match=r"epochs='3,4' is a list, but epochs takes one value \(int in \[1, 100000\]\)"):
        build_config({"epochs": "3,4"})
    with pytest.raises(ConfigError, match="nproc takes one value"):
        build_config({"nproc": "1,2"})
    path = tmp_path / "c.yaml"
    path.write_text("epochs: [3, 4]\n")
    with pytest.raises(ConfigError, match=f"{path}: epochs=.*is a list"):
        build_config({"cfg": str(path)})


def test_cfg_file_with_yaml_syntax_error_is_a_config_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("epochs: 3\nlr0: [0.1\nmosaic: 0\n")
    with pytest.raises(ConfigError, match=f"cfg={path}: not valid YAML at line 3, column 7"):
        build_config({"cfg": str(path)})


def test_cli_reports_bad_key_with_exit_2(capsys):
    assert main(["train", "bogus_key=1"]) == 2
    assert "unknown key 'bogus_key'" in capsys.readouterr().err
    assert main(["help"]) == 0


def test_classes_is_a_list_of_class_ids_from_the_command_line_a_cfg_file_or_python(tmp_path):
    assert build_config().classes == []
    assert build_config({"classes": "0,2"}).classes == [0, 2]
    assert build_config({"classes": "1"}).classes == [1]
    assert build_config({"classes": [3, 4]}).classes == [3, 4]
    (tmp_path / "c.yaml").write_text("classes: [0, 2]\n")
    assert build_config({"cfg": str(tmp_path / "c.yaml")}).classes == [0, 2]
    for bad in ("a", "-1", "0.5"):
        with pytest.raises(ConfigError, match="classes="):
            build_config({"classes": bad})
    first = build_config()
    first.classes.append(5)  # each config owns its list: the schema's default stays empty
    assert build_config().classes == []
