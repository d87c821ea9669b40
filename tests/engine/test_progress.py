"""The progress bar and the run header read as a person would write them."""
from turboyolo.engine.progress import EpochProgress, describe_processes


def test_processes_are_described_in_words():
    assert describe_processes("single", 1, "cpu", 2) == "1 process on cpu, 2 threads"
    assert describe_processes("ddp", 4, "cuda", 1) == "4 processes on cuda (ddp), 1 thread each"


def test_progress_line_reads_as_one_sentence():
    progress = EpochProgress(0, 3, 10, enabled=True)
    progress.update(4, [2.0221, 1.4532, 1.2234], 1.67e-5, {"images_per_s": 12.34, "data_wait_share": 0.031}, None)
    line = str(progress.bar)
    progress.close()
    assert line.startswith("epoch 1/3 4/10 |")
    assert line.endswith(", loss box 2.022 cls 1.453 dfl 1.223, lr 1.7e-05, 12.3 images/s, 3% waiting for data")
    assert " , " not in line and "img/s" not in line
