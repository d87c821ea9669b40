"""The training loop: setup -> (train_epoch -> validate -> save) x epochs -> final report.

The loop is the same on one CPU, one GPU and many nodes: everything distributed goes through the
Strategy object (turboyolo/distributed), everything timed through the StepTimer (turboyolo/perf),
each micro-step through TrainStep (engine/train_step.py), everything reported through the RunLogger.
What moves forward as the run goes (position, best so far, history) is the TrainState.
"""
from __future__ import annotations

import dataclasses
import time
import warnings

import torch

from turboyolo.engine import schedule as schedule_lib
from turboyolo.engine.buffer_snapshot import BufferSnapshot
from turboyolo.engine.checkpoint import capture_rng, load_checkpoint, strip_for_inference, write_checkpoint
from turboyolo.engine.checkpoint_settings import absolute_paths
from turboyolo.engine.model_input import to_model_input
from turboyolo.engine.progress import EpochProgress
from turboyolo.engine.resume import RunFinished
from turboyolo.engine.setup import TrainingSetup, build_training_setup
from turboyolo.engine.task_factory import build_task
from turboyolo.engine.time_budget import TimeBudget, measured_cost
from turboyolo.engine.train_step import DetectionTask, TrainStep
from turboyolo.engine.validator import validate

# Losses are read on the host only every this many micro-steps (each read is a device sync).
LOG_EVERY = 10
# time=: inside an epoch the budget is checked every this many optimizer steps (rank 0 decides, a broadcast)
BUDGET_CHECK_EVERY = 5


class Trainer:
    """`Trainer(cfg).fit()` trains and returns the final summary dict.

    callbacks: {"on_train_start" | "on_optimizer_step" | "on_epoch_end" | "on_fit_end": [fn(trainer)]}; module-level
    functions survive the in-process spawn used for multi-process runs. In a callback, `trainer.setup` holds
    the run's parts (model, optimizer, loaders...), `trainer.state` its progress, `trainer.task` forward + loss.
    """

    def __init__(self, cfg, callbacks: dict | None = None):
        self.cfg = cfg
        self.callbacks = callbacks or {}
        self.setup: TrainingSetup | None = None
        self.task: DetectionTask | None = None
        self.step_runner: TrainStep | None = None
        self.stopped_mid_epoch = False  # max_bad_steps ended an epoch early: it is not a finished epoch
        self._bad_steps_reason = ""
        self._epochs_logged = 0  # by this process (the diagnosis follows its first epoch)
        self.final_metrics: dict = {}  # best.pt validated at the end
        self._last_validation: tuple[int, dict] = (-1, {})  # (epoch, metrics) of this process's latest validation
        self.budget = TimeBudget(cfg.time)  # time=; fit() starts its clock again

    @property
    def state(self):
        return self.setup.state

    @property
    def history(self) -> list[dict]:
        return self.setup.state.history if self.setup else []

    # --- phases ------------------------------------------------------------------------------
    def fit(self) -> dict:
        self.budget = TimeBudget(self.cfg.time)  # the budget counts the whole run, setup included
        try:
            self.setup = s = build_training_setup(self.cfg)
        except RunFinished as done:
            if self.cfg.verbose:
                print(f"turboyolo: {done}")
            return {"stop_reason": "finished", "message": str(done)}
        try:
            self.task = build_task(self.cfg, s)  # detection, plus distillation / sparsity when asked for
            # sum-reduced loss x world size: gradients equal one process with the global batch
            self.step_runner = TrainStep(s.strategy, s.wrapped, self.task, s.optimizer, scaler=s.scaler, ema=s.ema,
                                         grad_clip=self.cfg.grad_clip, loss_scale=s.env.world_size, timer=s.timer,
                                         model=s.model)
            if s.env.is_main and self.cfg.plots and s.state.epoch == 0:
                from turboyolo.engine.plots import write_data_plots

                write_data_plots(s.run_dir.path, s.train_loader.dataset.records, s.names, s.train_loader.dataset,
                                 s.state.epoch, self.cfg.epochs)
            self._run("on_train_start")
            self.budget.continue_run(self.cfg.time, s.state.train_time_s)
            if self.budget.enabled and s.state.history:  # a resumed run plans with what is left
                self.plan_epochs(s.state.epoch, s.state.history)
            epoch = s.state.epoch
            while epoch < self.cfg.epochs and not s.state.stop_reason:
                row = self.train_epoch(epoch)
                if self.stopped_mid_epoch:  # saved where it stopped (a resume continues there), no row
                    self.save_checkpoint(epoch, row.pop("samples_in_epoch"), metrics={}, partial=row)
                    break
                if self.budget.enabled:  # before validating: this epoch may be the last that fits
                    self.plan_epochs(epoch + 1, s.state.history + [row])
                row.update(self.maybe_validate(epoch))
                self.after_epoch(epoch, row)
                epoch += 1
            summary = self.after_train()
            self._run("on_fit_end")
            return summary
        finally:
            s.strategy.close()
            if s.run_dir is not None:
                s.run_dir.unlock()

    def train_epoch(self, epoch: int) -> dict:
        s, cfg, state = self.setup, self.cfg, self.setup.state
        # a resumed epoch skips the samples (global count) its checkpoint had already consumed
        s.train_loader.set_epoch(epoch, cfg.epochs, start_index=state.samples_in_epoch)
        done_before = state.samples_in_epoch // s.derived.global_batch
        s.wrapped.train()
        s.timer.reset()
        # a resumed epoch's loss means include the batches before its checkpoint
        partial = state.epoch_partial if done_before else {}
        loss_sum = torch.tensor(partial.get("loss_sum", [0.0] * 3), device=s.env.device)
        batches_before = int(partial.get("batches", 0))
        state.epoch_partial = {}
        buffers = s.extra.setdefault("buffers", BufferSnapshot(s.model))
        micro_in_step = 0
        batches = done_before + len(s.train_loader)
        i = done_before - 1  # a checkpoint taken after the epoch's last batch leaves nothing to iterate
        progress = EpochProgress(epoch, cfg.epochs, batches, enabled=s.env.is_main and cfg.verbose, start=done_before)
        started = time.perf_counter()
        s.timer.start_step()
        for i, batch in enumerate(s.train_loader, start=done_before):
            s.timer.lap("data")
            images = to_model_input(batch["images"], s.env.device, s.memory_format)
            targets = batch["targets"].to(s.env.device, non_blocking=True)
            s.timer.lap("h2d")

            hyper = s.schedule.at(epoch, state.iteration)
            schedule_lib.apply(s.optimizer, hyper)
            if micro_in_step == 0:
                buffers.take()  # restored if this optimizer step turns out non-finite
            micro_in_step += 1
            # the last micro-step of an accumulation window reduces the gradients and steps
            step_now = micro_in_step >= hyper["micro_steps_per_step"] or i == batches - 1
            loss_sum += self.step_runner.micro(images, targets, step_now)
            state.iteration += 1
            if step_now:
                self._optimizer_step(buffers)
                micro_in_step = 0
            s.timer.end_step(images.shape[0] * s.env.world_size)
            seen = i + 1 - done_before + batches_before
            if (i + 1) % LOG_EVERY == 0 or i == batches - 1:
                progress.update(i + 1, (loss_sum / seen).tolist(), hyper["lr"][0], s.timer.summary(wait=False), s.mfu)
            if step_now:
                if cfg.save_period_steps and state.step % cfg.save_period_steps == 0:
                    self.save_checkpoint(epoch, samples_in_epoch=(i + 1) * s.derived.global_batch, metrics={},
                                         partial={"loss_sum": loss_sum.tolist(), "batches": seen})
                self._run("on_optimizer_step")
            if self.stopped_mid_epoch:  # max_bad_steps: this epoch did not finish
                return {"samples_in_epoch": (i + 1) * s.derived.global_batch, "loss_sum": loss_sum.tolist(),
                        "batches": seen}
            if step_now and self.budget.enabled and state.step % BUDGET_CHECK_EVERY == 0:
                batch_s = (time.perf_counter() - started) / (i + 1 - done_before)
                to_next_check = min(BUDGET_CHECK_EVERY * hyper["micro_steps_per_step"], batches - i - 1)  # or epoch end
                if self._budget_runs_out(epoch, batch_s * batches, next_check_s=batch_s * to_next_check):
                    break  # the budget ends before the next check: this epoch becomes the last (validated, saved)
            if state.stop_reason or (cfg.max_steps and state.step >= cfg.max_steps):
                state.stop_reason = state.stop_reason or f"max_steps={cfg.max_steps} reached"
                break
            s.timer.start_step()
        progress.close()
        count = max(i + 1 - done_before + batches_before, 1)
        state.samples_in_epoch = 0
        loss_means = (s.strategy.all_reduce(loss_sum.clone()) / (count * s.env.world_size)).tolist()
        timing = s.timer.summary()
        row = {"epoch": epoch + 1, "box_loss": loss_means[0], "cls_loss": loss_means[1], "dfl_loss": loss_means[2]}
        row["lr"] = s.optimizer.param_groups[0]["lr"]
        row["epoch_s"] = time.perf_counter() - started
        row["images_per_s"] = timing.get("images_per_s", 0.0)
        row["images_per_s_per_rank"] = row["images_per_s"] / s.env.world_size
        dataset = s.train_loader.dataset
        row["train_imgsz"] = dataset.train_input_size  # below imgsz in progressive resizing's early epochs
        # the FLOPs per image are counted at imgsz; a smaller input does fewer, about in proportion to its pixels
        row["mfu"] = s.mfu_from(row["images_per_s_per_rank"] * (dataset.train_input_size / dataset.input_size) ** 2)
        for key in ("data_wait_share", "exposed_comm_share"):
            row[key] = timing.get(key, 0.0)
        for phase in ("data", "h2d", "forward", "backward", "optimizer", "other"):
            row[f"{phase}_s"] = timing.get(f"{phase}_s", 0.0)
        return row

    # --- time budget (time=) -----------------------------------------------------------------
    def plan_epochs(self, done: int, rows: list[dict]) -> None:
        """Make `epochs` the most that fit in the time left (rows: results so far, newest last); rank 0 decides."""
        s, cfg = self.setup, self.cfg
        planned = None
        if s.env.is_main:
            dataset = s.train_loader.dataset
            cost = measured_cost(rows, dataset.input_size, len(dataset), len(s.val_records) if s.val_loader else 0)
            planned = self.budget.plan(
                done, cost,
                pixel_share=lambda e, n: dataset.progressive.pixel_share(e, n, dataset.input_size, dataset.stride,
                                                                         dataset.close_mosaic),
                validated=lambda e, n: bool(s.val_loader) and ((e + 1) % cfg.val_period == 0 or e == n - 1))
        self._set_epochs(s.strategy.broadcast_object(planned))

    def _budget_runs_out(self, epoch: int, epoch_estimate_s: float, next_check_s: float) -> bool:
        """Mid-epoch: whether the time left no longer covers the steps to the next check, this epoch's validation
        and best.pt's; if so the epoch becomes the last. epoch_estimate_s: this epoch's training time at its pace."""
        s = self.setup
        out = None
        if s.env.is_main:
            row = {"epoch_s": epoch_estimate_s, "train_imgsz": s.train_loader.dataset.train_input_size}
            cost = measured_cost(s.state.history + [row], s.train_loader.dataset.input_size,
                                 len(s.train_loader.dataset), len(s.val_records) if s.val_loader else 0)
            out = self.budget.runs_out(next_check_s + 2 * cost.val_s)
        out = s.strategy.broadcast_object(out)
        if out:
            self.budget.spent = True
            self._set_epochs(epoch + 1)
        return out

    def _set_epochs(self, epochs: int) -> None:
        """The run's length (time= re-plans it): the loop, close_mosaic, the LR decay and the last validation follow."""
        s, cfg = self.setup, self.cfg
        if epochs != cfg.epochs and s.env.is_main and cfg.verbose:
            print(f"time={cfg.time:g}h: {epochs} epochs planned ({self.budget.remaining_s() / 60:.1f} min left)")
        cfg.epochs = epochs
        s.schedule = dataclasses.replace(s.schedule, epochs=epochs)

    def _optimizer_step(self, buffers: BufferSnapshot) -> None:
        state = self.setup.state
        if self.step_runner.step(state.step + 1):
            state.bad_steps = 0
            state.step += 1
            return
        buffers.restore()  # the skipped forward passes must leave no trace in BatchNorm statistics
        state.bad_steps += 1
        warnings.warn(f"non-finite loss or gradients at step {state.step}: update skipped ({state.bad_steps} in a row)")
        if state.bad_steps >= self.cfg.max_bad_steps:
            self.stopped_mid_epoch = True
            self.stop_reason = (
                f"stopped: {state.bad_steps} non-finite losses in a row (max_bad_steps={self.cfg.max_bad_steps}); "
                "try a lower lr0, amp=off, or check the labels with `turboyolo check`"
            )

    @property
    def stop_reason(self) -> str:
        """Why the run ended early ("" when it ran all its epochs); "stopped: ..." is a failure."""
        return self._bad_steps_reason if self.stopped_mid_epoch else (self.setup.state.stop_reason if self.setup else "")

    @stop_reason.setter
    def stop_reason(self, reason: str) -> None:
        if self.stopped_mid_epoch:
            self._bad_steps_reason = reason  # not a state of the run: a resume may go on from there
        else:
            self.setup.state.stop_reason = reason

    def maybe_validate(self, epoch: int) -> dict:
        cfg, s = self.cfg, self.setup
        last = epoch == cfg.epochs - 1 or bool(s.state.stop_reason)
        if not cfg.val or not s.val_loader or not ((epoch + 1) % cfg.val_period == 0 or last):
            return {}
        model = self._eval_model()
        s.strategy.unify_eval_state(model)  # one model on every rank before the shards are evaluated
        metrics = self._validate(model, plots=last)
        self._last_validation = (epoch, metrics)
        return metrics

    def _validate(self, model, plots: bool) -> dict:
        s, cfg = self.setup, self.cfg
        started = time.perf_counter()
        metrics = validate(model, s.val_loader, s.val_records, s.names, s.strategy, cfg, s.amp_dtype, s.memory_format,
                           plots_dir=s.run_dir.path if (plots and cfg.plots and s.env.is_main) else None,
                           category_ids=s.category_ids)
        metrics["val_s"] = time.perf_counter() - started
        return metrics

    def _eval_model(self) -> torch.nn.Module:
        # without EMA the strategy hands out a plain module with the live weights (FSDP gathers them)
        s = self.setup
        return s.ema.module if s.ema is not None else s.strategy.eval_module(s.wrapped)

    def after_epoch(self, epoch: int, row: dict) -> None:
        s, cfg, state = self.setup, self.cfg, self.setup.state
        fitness = 0.1 * row.get("mAP50", 0.0) + 0.9 * row.get("mAP50-95", 0.0)
        improved = fitness > state.best_fitness or state.best_epoch < 0
        if improved:
            state.best_fitness, state.best_epoch = fitness, epoch
        if cfg.patience and epoch - state.best_epoch >= cfg.patience:
            state.stop_reason = f"no improvement for {cfg.patience} epochs (best epoch {state.best_epoch + 1})"
        state.history.append({k: v for k, v in row.items() if not isinstance(v, (list, dict))})
        state.epoch = epoch + 1
        # last.pt carries the history, so a kill before the CSV write below loses no row
        self.save_checkpoint(epoch + 1, 0, row, best=improved)  # collective: every rank calls it
        if s.logger is not None:
            s.logger.log_epoch(row, state.history, first=self._epochs_logged == 0)
        self._epochs_logged += 1
        s.strategy.barrier()
        self._run("on_epoch_end")

    def validate_best(self) -> dict:
        """best.pt's metrics (and plots) at the end, as users expect: re-validated unless the last
        validation already saw those weights."""
        s, cfg = self.setup, self.cfg
        if not cfg.val or not s.val_loader or s.state.best_epoch < 0 or self.stopped_mid_epoch:
            return {}
        last_epoch, last_metrics = self._last_validation
        if s.state.best_epoch == last_epoch:
            return last_metrics  # the last validation was of best.pt's weights (and wrote the plots)
        weights = None
        if s.env.is_main:
            from turboyolo.compress.qat import qat_weights

            best = load_checkpoint(s.run_dir.weights / "best.pt")
            weights = qat_weights(best) if self.cfg.qat else best["model"]  # qat: with the ranges it was validated with
        weights = s.strategy.broadcast_object(weights)  # rank 0 wrote best.pt; every rank validates it
        model = self._eval_model()
        model.load_state_dict(weights)
        return self._validate(model, plots=True)

    def after_train(self) -> dict:
        s, state = self.setup, self.setup.state
        last = state.history[-1] if state.history else {}
        summary = dict(last)
        self.final_metrics = self.validate_best()
        summary.update({"run_dir": str(s.run_dir.path) if s.run_dir else "", "steps": state.step,
                        "best_fitness": state.best_fitness, "best_epoch": state.best_epoch + 1,
                        "stop_reason": self.stop_reason,
                        "best": {k: v for k, v in self.final_metrics.items() if k != "per_class"}})
        if s.logger is not None:
            s.logger.close(state.history, self.stop_reason, self.final_metrics, state.best_epoch, len(s.val_records))
        return summary

    # --- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self, epoch: int, samples_in_epoch: int, metrics: dict, best: bool = False,
                        partial: dict | None = None) -> None:
        """epoch: epochs fully done; samples_in_epoch: global samples done in the next one (mid-epoch saves);
        partial: that epoch's loss sums so far (loss_sum, batches), so a resumed epoch reports whole-epoch means."""
        s = self.setup
        optimizer_state = s.strategy.optimizer_state(s.optimizer)  # collective for sharded optimizers
        if s.ema is not None:
            s.strategy.unify_eval_state(s.ema.module)  # collective
        model_state = s.strategy.model_state(s.wrapped)
        if not s.env.is_main:
            return
        weights = s.ema.module.state_dict() if s.ema is not None else model_state
        s.state.train_time_s = self.budget.elapsed_s()
        progress = s.state.state_dict()
        progress.update(epoch=epoch, samples_in_epoch=samples_in_epoch, epoch_partial=partial or {})
        ckpt = {
            "format": 1, "model": weights, "spec": s.model.spec, "names": s.names, "args": absolute_paths(self.cfg),
            "args_given": sorted(self.cfg.given),  # keys the user set (optimizer=auto keeps a given lr0 on resume)
            "metrics": {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))},
            "epoch": progress.pop("epoch"), "step": progress.pop("step"),
            "train_state": {
                "model": model_state, "optimizer": optimizer_state,
                "ema": s.ema.state_dict() if s.ema is not None else None,
                "scaler": s.scaler.state_dict() if s.scaler else None,
                "rng": capture_rng(), "world_size": s.env.world_size, **progress,
            },
        }
        if self.cfg.qat:  # "model" stays a plain detector's weights: val, predict and export read it as any other
            from turboyolo.compress.qat import QAT_KEY, split_ranges

            ckpt["model"], ckpt[QAT_KEY] = split_ranges(ckpt["model"])
        # best.pt first: a kill between the two leaves the older last.pt, whose resume redoes this epoch;
        # the other order could leave a last.pt that names a best epoch best.pt never received
        if best:
            write_checkpoint(strip_for_inference(ckpt), s.run_dir.weights / "best.pt")
        write_checkpoint(ckpt, s.run_dir.weights / "last.pt")

    def _run(self, event: str) -> None:
        for fn in self.callbacks.get(event, []):
            fn(self)
