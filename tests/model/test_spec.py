import pytest
import yaml

from turboyolo.model.spec import SpecError, load_spec, plan_layers, scaled_channels


def test_scale_letter_selects_packaged_family():
    spec = load_spec("s")
    assert spec["scale"] == "s" and spec["reg_max"] == 16
    plans = plan_layers(spec)
    assert [plans[d].stride for d in spec["detect"]] == [8, 16, 32]
    assert [plans[d].c_out for d in spec["detect"]] == [128, 256, 512]


def test_width_is_capped_and_rounded_to_8():
    assert scaled_channels(1024, 0.25, 1024) == 256
    assert scaled_channels(1024, 1.25, 512) == 640
    assert scaled_channels(100, 0.25, 1024) == 32  # 25 -> next multiple of 8


def test_user_yaml_without_scales(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({
        "layers": [[-1, 1, "Conv", [8, 3, 2]], [-1, 1, "Conv", [16, 3, 2]], [-1, 1, "Conv", [16, 3, 2]],
                   [-1, 2, "C2f", [16]]],
        "detect": [3],
    }))
    plans = plan_layers(load_spec(str(path)))
    assert plans[3].stride == 8 and plans[3].args[:3] == [16, 16, 2]


@pytest.mark.parametrize("bad, message", [
    ({"layers": [[-1, 1, "Nope", [8]]], "detect": [0]}, "unknown block"),
    ({"layers": [[-1, 1, "Conv", [8, 3, 2]], [[-1, 5], 1, "Concat", []]], "detect": [1]}, "earlier layers"),
    ({"layers": [[-1, 1, "Conv", [8, 3, 2]]], "detect": [3]}, "does not exist"),
    ({"layers": [[-1, 1, "Conv", [8]]]}, "detect"),
    ({"scales": {"a": [1, 1, 64]}, "layers": [[-1, 1, "Conv", [8]]], "detect": [0]}, "pick one"),
])
def test_bad_specs_get_clear_errors(bad, message):
    with pytest.raises(SpecError, match=message):
        plan_layers(load_spec(bad))


def test_unknown_name_is_an_error():
    with pytest.raises(SpecError, match="neither a scale"):
        load_spec("q")
