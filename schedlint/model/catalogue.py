"""What the checker knows about torch (and torch-protocol) optimizers and schedulers.

Pure data, no torch import: the checker runs where torch is not installed. The facts were read
from torch 2.13's optimizers and schedulers; no test compares them with the installed torch yet.
"""

from __future__ import annotations

TORCH_SCHEDULER_MODULES = ("torch.optim.lr_scheduler", "torch.optim.swa_utils")

# Constructor parameters in order, so positional arguments can be named.
SCHEDULER_SIGNATURES = {
    "LambdaLR": ("optimizer", "lr_lambda", "last_epoch"),
    "MultiplicativeLR": ("optimizer", "lr_lambda", "last_epoch"),
    "StepLR": ("optimizer", "step_size", "gamma", "last_epoch"),
    "MultiStepLR": ("optimizer", "milestones", "gamma", "last_epoch"),
    "ConstantLR": ("optimizer", "factor", "total_iters", "last_epoch"),
    "LinearLR": ("optimizer", "start_factor", "end_factor", "total_iters", "last_epoch"),
    "ExponentialLR": ("optimizer", "gamma", "last_epoch"),
    "SequentialLR": ("optimizer", "schedulers", "milestones", "last_epoch"),
    "PolynomialLR": ("optimizer", "total_iters", "power", "last_epoch"),
    "CosineAnnealingLR": ("optimizer", "T_max", "eta_min", "last_epoch"),
    "ChainedScheduler": ("schedulers", "optimizer"),
    "ReduceLROnPlateau": ("optimizer", "mode", "factor", "patience", "threshold",
                          "threshold_mode", "cooldown", "min_lr", "eps"),
    "CyclicLR": ("optimizer", "base_lr", "max_lr", "step_size_up", "step_size_down", "mode",
                 "gamma", "scale_fn", "scale_mode", "cycle_momentum", "base_momentum",
                 "max_momentum", "last_epoch"),
    "OneCycleLR": ("optimizer", "max_lr", "total_steps", "epochs", "steps_per_epoch",
                   "pct_start", "anneal_strategy", "cycle_momentum", "base_momentum",
                   "max_momentum", "div_factor", "final_div_factor", "three_phase",
                   "last_epoch"),
    "CosineAnnealingWarmRestarts": ("optimizer", "T_0", "T_mult", "eta_min", "last_epoch"),
    "SWALR": ("optimizer", "swa_lr", "anneal_epochs", "anneal_strategy", "last_epoch"),
}
TORCH_SCHEDULERS = frozenset(SCHEDULER_SIGNATURES)

# get_lr recomputes from stored bases: a manual lr edit is overwritten at the next step, and a
# second scheduler stepped before it is erased (semantics §2.2, §3.1).
CLOSED_FORM = frozenset({"LambdaLR", "CyclicLR", "OneCycleLR", "CosineAnnealingWarmRestarts"})
# get_lr multiplies the current group lr: edits persist and compound.
CHAINABLE = frozenset({"MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
                       "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
                       "ReduceLROnPlateau"})
# Neither: they delegate to children, or blend (SWALR).
COMPOSITE = frozenset({"SequentialLR", "ChainedScheduler"})

# step(x) takes a legitimate argument on these (a metric, a fractional epoch).
STEP_TAKES_ARGUMENT = frozenset({"ReduceLROnPlateau", "CosineAnnealingWarmRestarts"})

# Counted in iterations (optimizer steps), not epochs.
PER_ITERATION = frozenset({"OneCycleLR", "CyclicLR"})

# transformers' schedule factories all return a torch LambdaLR (closed form, counted in
# optimizer steps), except get_reduce_on_plateau_schedule.
TRANSFORMERS_MODULES = ("transformers", "transformers.optimization")
TRANSFORMERS_FACTORIES = {
    "get_constant_schedule": ("optimizer", "last_epoch"),
    "get_constant_schedule_with_warmup": ("optimizer", "num_warmup_steps", "last_epoch"),
    "get_linear_schedule_with_warmup": ("optimizer", "num_warmup_steps", "num_training_steps",
                                        "last_epoch"),
    "get_cosine_schedule_with_warmup": ("optimizer", "num_warmup_steps", "num_training_steps",
                                        "num_cycles", "last_epoch"),
    "get_cosine_with_hard_restarts_schedule_with_warmup": (
        "optimizer", "num_warmup_steps", "num_training_steps", "num_cycles", "last_epoch"),
    "get_polynomial_decay_schedule_with_warmup": (
        "optimizer", "num_warmup_steps", "num_training_steps", "lr_end", "power", "last_epoch"),
    "get_inverse_sqrt_schedule": ("optimizer", "num_warmup_steps", "timescale", "last_epoch"),
    "get_cosine_with_min_lr_schedule_with_warmup": (
        "optimizer", "num_warmup_steps", "num_training_steps", "num_cycles", "last_epoch",
        "min_lr", "min_lr_rate"),
    "get_wsd_schedule": ("optimizer", "num_warmup_steps", "num_decay_steps",
                         "num_training_steps", "num_stable_steps"),
    "get_scheduler": ("name", "optimizer", "num_warmup_steps", "num_training_steps",
                      "scheduler_specific_kwargs"),
}

TORCH_OPTIMIZERS = frozenset({
    "SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Rprop", "Adagrad",
    "Adadelta", "ASGD", "LBFGS", "SparseAdam", "Adafactor", "Muon",
})
# Optimizer classes reachable under these module paths behave like torch optimizers
# (bitsandbytes' derive from torch.optim.Optimizer; semantics §7.3).
OPTIMIZER_MODULE_PREFIXES = ("torch.optim", "bitsandbytes.optim", "bnb.optim", "apex.optimizers",
                             "timm.optim", "transformers")
OPTIMIZER_SIGNATURE = ("params", "lr")
# Under those other packages, a class whose name contains one of these is an optimizer.
OPTIMIZER_NAME_PARTS = ("Adam", "SGD", "Lion", "LAMB", "Lamb", "Adafactor", "RMS")

SCHEDULER_BASES = frozenset({
    "torch.optim.lr_scheduler.LRScheduler", "torch.optim.lr_scheduler._LRScheduler",
})


def scheduler_class(qualified):
    """Short torch/transformers scheduler name for a qualified callee name, else None."""
    if not qualified:
        return None
    module, _, last = qualified.rpartition(".")
    if module in TORCH_SCHEDULER_MODULES and last in TORCH_SCHEDULERS:
        return last
    if module in TRANSFORMERS_MODULES and last in TRANSFORMERS_FACTORIES:
        return last
    return None


def is_transformers_factory(short):
    return short in TRANSFORMERS_FACTORIES


def signature_of(short):
    return SCHEDULER_SIGNATURES.get(short) or TRANSFORMERS_FACTORIES.get(short) or ()


def optimizer_class(qualified):
    """Short optimizer name for a qualified callee name, else None."""
    if not qualified:
        return None
    module, _, last = qualified.rpartition(".")
    if not last or not last[0].isupper() or last == "Optimizer":
        return None
    if module == "torch.optim" or module.startswith("torch.optim."):
        return last if last in TORCH_OPTIMIZERS else None
    if any(module == p or module.startswith(p + ".") for p in OPTIMIZER_MODULE_PREFIXES[1:]):
        # Only names that look like optimizers: these packages export other classes too.
        if last in TORCH_OPTIMIZERS or any(k in last for k in OPTIMIZER_NAME_PARTS):
            return last
    return None


def is_closed_form(short):
    return short in CLOSED_FORM or short in TRANSFORMERS_FACTORIES and short != "get_scheduler"
