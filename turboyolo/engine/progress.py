"""The per-epoch progress bar: losses, lr, images/s, data-wait share and hardware efficiency."""
from __future__ import annotations

from tqdm import tqdm


class EpochProgress:
    def __init__(self, epoch: int, epochs: int, batches: int, enabled: bool, start: int = 0):
        self.bar = tqdm(total=batches, initial=start, desc=f"epoch {epoch + 1}/{epochs}", disable=not enabled,
                        dynamic_ncols=True, leave=True, bar_format="{desc} {n_fmt}/{total_fmt} |{bar:20}| {elapsed}<{remaining} {postfix}")
        self.done = start

    def update(self, done: int, losses: list[float], lr: float, timing: dict, mfu: float | None) -> None:
        self.bar.update(done - self.done)
        self.done = done
        post = f"box {losses[0]:.3f} cls {losses[1]:.3f} dfl {losses[2]:.3f} lr {lr:.2e} {timing.get('images_per_s', 0):.1f} img/s data {timing.get('data_wait_share', 0):.0%}"
        if mfu:
            post += f" MFU {mfu:.1%}"
        self.bar.set_postfix_str(post, refresh=False)

    def close(self) -> None:
        self.bar.close()
