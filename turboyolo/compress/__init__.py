"""Making a trained detector cheaper: structured pruning (prune.py, with the `prune` extra's
torch-pruning), knowledge distillation (distill.py) and BatchNorm sparsity training (sparsity.py).
The last two are training tasks chosen by engine/task_factory.py from `teacher=` and `sparsity=`."""
