"""What a tuning study leaves in its folder: best.yaml (a `cfg=` file), trials.csv and PNG plots."""
from __future__ import annotations

import csv
from pathlib import Path

import yaml

from turboyolo.tune.study import BASELINE_ATTR, RUN_DIR_ATTR, baseline_trial

PLOTS = {  # file -> Optuna's matplotlib plot (no browser, no plotly)
    "tune_history.png": "plot_optimization_history",
    "tune_importances.png": "plot_param_importances",
    "tune_parallel.png": "plot_parallel_coordinate",
}


def best_config(study, cfg, tuned: set[str], tune_keys: tuple[str, ...]) -> dict:
    """The user's training keys with the best trial's values on top: `turboyolo train cfg=best.yaml`."""
    user = {k: cfg[k] for k in cfg.given if k not in tune_keys and k not in tuned}
    return {**user, **study.best_trial.params}


def trial_rows(study) -> list[dict]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        last = t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None
        value = t.value if t.value is not None else last
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None
        rows.append({"trial": t.number, "baseline": "yes" if t.user_attrs.get(BASELINE_ATTR) else "",
                     "state": t.state.name.lower(),
                     "fitness": "" if value is None else f"{value:.5f}",
                     "epochs_reported": len(t.intermediate_values),
                     "seconds": "" if seconds is None else f"{seconds:.1f}",
                     **t.params, "run": t.user_attrs.get(RUN_DIR_ATTR, "")})
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def write_plots(study, folder: Path) -> list[Path]:
    """The plots Optuna can draw from this study (importances need two completed trials)."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import optuna.visualization.matplotlib as optuna_plots

    from turboyolo.plots.figure_file import save_figure

    written = []
    completed = [t for t in study.trials if t.state.name == "COMPLETE"]
    for name, plot in PLOTS.items():
        if plot != "plot_optimization_history" and len(completed) < 2:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            try:
                axes = getattr(optuna_plots, plot)(study)
            except (ValueError, RuntimeError):  # e.g. importances of parameters that never varied
                continue
        figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
        figure.set_size_inches(9, 5.5)
        figure.tight_layout()
        written.append(save_figure(figure, folder / name, dpi=110))
    return written


def write_report(study, folder: Path, cfg, tuned: set[str]) -> Path | None:
    """trials.csv always; best.yaml and the plots once a trial has completed. Returns best.yaml's path."""
    from turboyolo.tune.tune_cli import TUNE_KEYS

    folder.mkdir(parents=True, exist_ok=True)
    rows = trial_rows(study)
    if rows:
        _write_csv(folder / "trials.csv", rows)
    if not any(t.state.name == "COMPLETE" for t in study.trials):
        return None
    best = study.best_trial
    header = (f"# turboyolo tune: best of study {study.study_name!r}, trial {best.number}, fitness {best.value:.5f}\n"
              f"# (fitness = 0.1 mAP50 + 0.9 mAP50-95 on the val split); train with: turboyolo train cfg=best.yaml\n")
    baseline = baseline_trial(study)
    if baseline is not None:
        header += (f"# baseline (the configured values, trial {baseline.number}): fitness {baseline.value:.5f}"
                   + (" = the best\n" if baseline.number == best.number else "\n"))
    path = folder / "best.yaml"
    tmp = path.with_name(".best.yaml.tmp")
    tmp.write_text(header + yaml.safe_dump(best_config(study, cfg, tuned, TUNE_KEYS), sort_keys=False))
    tmp.replace(path)
    write_plots(study, folder)
    return path
