"""The per-epoch progress bar (losses, lr, images/s, data-wait share, hardware efficiency) and the run's
one-line description of its processes, worded as a person would write them."""
from __future__ import annotations

from tqdm import tqdm


def describe_processes(strategy: str, world_size: int, device: str, threads: int) -> str:
    """("single", 1, "cpu", 2) -> "1 process on cpu, 2 threads"; ("ddp", 4, "cuda", 8) ->
    "4 processes on cuda (ddp), 8 threads each"."""
    if world_size == 1:
        return f"1 process on {device}, {threads} thread{'s' if threads != 1 else ''}"
    return f"{world_size} processes on {device} ({strategy}), {threads} thread{'s' if threads != 1 else ''} each"


def describe_step(losses: list[float], lr: float, timing: dict, mfu: float | None) -> str:
    """The bar's text after the times: "loss box 2.02 cls 1.45 dfl 1.22, lr 1.7e-05, 0.9 images/s, 3% waiting for data"."""
    text = (f"loss box {losses[0]:.3f} cls {losses[1]:.3f} dfl {losses[2]:.3f}, lr {lr:.2g}, "
            f"{timing.get('images_per_s', 0):.1f} images/s, {timing.get('data_wait_share', 0):.0%} waiting for data")
    if mfu:
        text += f", MFU {mfu:.1%}"
    return text


class EpochProgress:
    def __init__(self, epoch: int, epochs: int, batches: int, enabled: bool, start: int = 0):
        # tqdm joins the postfix with ", ": it follows the times as the next clause of the line
        self.bar = tqdm(total=batches, initial=start, desc=f"epoch {epoch + 1}/{epochs}", disable=not enabled,
                        dynamic_ncols=True, leave=True,
                        bar_format="{desc} {n_fmt}/{total_fmt} |{bar:20}| {elapsed}<{remaining}{postfix}")
        self.done = start

    def update(self, done: int, losses: list[float], lr: float, timing: dict, mfu: float | None) -> None:
        self.bar.update(done - self.done)
        self.done = done
        self.bar.set_postfix_str(describe_step(losses, lr, timing, mfu), refresh=False)

    def close(self) -> None:
        self.bar.close()
