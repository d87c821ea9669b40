"""Hyperparameter search: `turboyolo tune` (Optuna studies of ordinary training runs)."""
