"""`turboyolo prune weights=best.pt ratio=0.3 [method=l1|bn|taylor] [out=pruned.pt]`.

Writes an ordinary checkpoint (its spec records the narrowed convs) that `val`, `predict` and
`train model=pruned.pt` (fine-tuning, which a pruned model needs) read like any other. Prints the
parameters and GFLOPs before and after. method=taylor scores channels with the loss gradients of a
few training images of the checkpoint's dataset (data= to use another).
"""
from __future__ import annotations

from pathlib import Path

from turboyolo.config import ConfigError

TAYLOR_IMAGES = 32  # training images whose loss gradients score the channels for method=taylor
TAYLOR_BATCH = 8


def output_path(cfg) -> Path:
    """out=, or <weights stem>-pruned.pt beside the weights; never the weights themselves."""
    weights = Path(cfg.weights)
    out = Path(cfg.out) if cfg.out else weights.with_name(f"{weights.stem}-pruned.pt")
    if out.suffix not in (".pt", ".pth"):
        raise ConfigError(f"out={out}: a pruned checkpoint is a .pt file; give out=NAME.pt")
    if out.exists() and out.resolve() == weights.resolve():
        raise ConfigError(f"out={out} is the checkpoint being pruned; give another out=NAME.pt")
    if out.exists() and not cfg.exist_ok:
        raise ConfigError(f"out={out} already exists; give another out= or exist_ok=true to replace it")
    return out


def taylor_batches(cfg, model):
    """(images, targets) batches of the first TAYLOR_IMAGES training images, and the loss that scores them."""
    from turboyolo.data.formats import load_dataset
    from turboyolo.data.loader import build_dataloader
    from turboyolo.engine.model_input import cpu_model_input
    from turboyolo.loss.detection_loss import DetectionLoss

    data = load_dataset(cfg.data, cfg.cache_dir, verbose=False, difficult=cfg.difficult)
    records = data.split("train")[:TAYLOR_IMAGES]
    loader = build_dataloader(records, cfg, train=False, batch_size=TAYLOR_BATCH, cache=None, workers=0)
    loss_fn = DetectionLoss(model, box=cfg.box, cls=cfg.cls, dfl=cfg.dfl, topk=cfg.tal_topk, alpha=cfg.tal_alpha,
                            beta=cfg.tal_beta)
    batches = ((cpu_model_input(batch["images"]), batch["targets"]) for batch in loader)
    return batches, loss_fn


def run(cfg, positional=None) -> int:
    from turboyolo.errors import require_extra

    require_extra("torch_pruning", "prune", "turboyolo prune")  # before any work: the one-line install hint
    from turboyolo.compress.prune import prune_detector
    from turboyolo.engine.checkpoint import write_checkpoint
    from turboyolo.engine.weights import is_onnx, load_weights
    from turboyolo.engine.checkpoint_settings import adopt_checkpoint_settings, carried_args
    from turboyolo.model.build import build_model
    from turboyolo.perf.flops import count_params, inference_flops_per_image

    if not cfg.weights:
        raise ConfigError("prune needs weights=PATH.pt (e.g. runs/train/exp/weights/best.pt)")
    out = output_path(cfg)
    if is_onnx(cfg.weights):
        raise ConfigError(f"weights={cfg.weights} is ONNX: prune the .pt checkpoint it was exported from")
    ckpt = load_weights(cfg.weights)  # a turboyolo checkpoint, or a YOLOv8 .pt imported
    # the size the model was trained at traces the graph and counts FLOPs; taylor also reads its training data
    keys = ("imgsz", "data", "difficult") if cfg.method == "taylor" else ("imgsz",)
    adopted = adopt_checkpoint_settings(cfg, ckpt, keys, cfg.weights)
    if cfg.verbose:
        print(f"turboyolo prune: {adopted}")
    model = build_model(ckpt["spec"], len(ckpt["names"]))
    model.load_state_dict(ckpt["model"])
    model.names = list(ckpt["names"])

    batches, loss_fn = taylor_batches(cfg, model) if cfg.method == "taylor" else ((), None)
    pruned = prune_detector(model, cfg.ratio, cfg.method, imgsz=cfg.imgsz, loss_batches=batches, loss_fn=loss_fn)

    figures = {}
    for label, net in (("before", model), ("after", pruned)):
        figures[label] = (count_params(net), inference_flops_per_image(net, cfg.imgsz) / 1e9)
    record = {"source": str(cfg.weights), "ratio": cfg.ratio, "method": cfg.method,
              "params": [figures["before"][0], figures["after"][0]],
              "gflops": [figures["before"][1], figures["after"][1]], "imgsz": cfg.imgsz}
    write_checkpoint({
        "format": 1, "model": pruned.state_dict(), "spec": pruned.spec, "names": pruned.names,
        "args": carried_args(ckpt, cfg.weights), "metrics": {},  # the source's metrics no longer hold
        "epoch": ckpt.get("epoch", 0), "step": ckpt.get("step", 0), "pruned": record,
    }, out)
    if cfg.verbose:
        (p0, g0), (p1, g1) = figures["before"], figures["after"]
        print(f"pruned {cfg.weights} (ratio {cfg.ratio}, method {cfg.method}): {p0 / 1e6:.2f} M -> {p1 / 1e6:.2f} M "
              f"parameters ({p1 / p0:.0%}), {g0:.2f} -> {g1:.2f} GFLOPs/image at {cfg.imgsz} ({g1 / g0:.0%})")
        print(f"wrote {out}; fine-tune it before use: turboyolo train model={out} data=... epochs=...")
    return 0
