"""Train the peer (Ultralytics) once; run by the throw-away venv's python, never imported by turboyolo.

usage: <venv>/bin/python -I benchmarks/ultralytics_peer.py '<json spec>'
spec: {"model": "yolov8n.yaml", "train": {model.train keyword arguments}, "events": PATH,
       "torch_threads": 0 (stock: leave the peer's own choice) or N (tuned: set N through a callback)}

Only public API is used (YOLO, add_callback, train). Every run, stock or tuned, gets the same stamping
callbacks (a JSON line per epoch phase into `events`), so both are timed alike; they change nothing
the peer computes.
"""
import json
import sys
import time


def main(spec: dict) -> None:
    import torch
    from ultralytics import YOLO

    events = open(spec["events"], "a")

    def stamp(name):
        def callback(trainer):
            record = {"event": name, "epoch": getattr(trainer, "epoch", -1) + 1, "time": time.time(),
                      "torch_threads": torch.get_num_threads()}
            events.write(json.dumps(record) + "\n")
            events.flush()
        return callback

    model = YOLO(spec["model"])
    for name in ("on_train_start", "on_train_epoch_start", "on_train_epoch_end", "on_fit_epoch_end"):
        model.add_callback(name, stamp(name))
    threads = int(spec["torch_threads"])
    if threads:
        def set_threads(trainer):
            torch.set_num_threads(threads)
        # before the model and data are set up, and again when training or a validation starts, in case
        # the peer's device set-up put its own count back (its final validation of best.pt does)
        for name in ("on_pretrain_routine_start", "on_train_start", "on_val_start"):
            model.add_callback(name, set_threads)
    model.train(**spec["train"])
    events.close()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
