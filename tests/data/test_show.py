import cv2

from turboyolo.cli import main
from tests.data.dataset_fixtures import make_yolo


def test_show_writes_a_grid_of_augmented_samples(tmp_path):
    images = {f"im{i}.jpg": "0 0.5 0.5 0.4 0.4\n1 0.2 0.3 0.1 0.2\n" for i in range(4)}
    data = make_yolo(tmp_path / "ds", {"train": images, "val": images})
    out = tmp_path / "show.png"
    assert main(["show", f"data={data}", "n=4", "imgsz=64", f"out={out}", "verbose=false"]) == 0
    grid = cv2.imread(str(out))
    assert grid.shape == (128, 128, 3)
