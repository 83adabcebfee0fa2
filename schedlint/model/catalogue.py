"""What the checker knows about torch (and torch-protocol) optimizers and schedulers.

Pure data, no torch import: the checker runs where torch is not installed. The facts were
measured on torch 2.13 (the project's scheduler-semantics notes, cited as "semantics §N");
``tests/test_catalogue.py`` checks the class list and signatures against the installed torch.
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
    "ReduceLROnPlateau": (
        "optimizer",
        "mode",
        "factor",
        "patience",
        "threshold",
        "threshold_mode",
        "cooldown",
        "min_lr",
        "eps",
    ),
    "CyclicLR": (
        "optimizer",
        "base_lr",
        "max_lr",
        "step_size_up",
        "step_size_down",
        "mode",
        "gamma",
        "scale_fn",
        "scale_mode",
        "cycle_momentum",
        "base_momentum",
        "max_momentum",
        "last_epoch",
    ),
    "OneCycleLR": (
        "optimizer",
        "max_lr",
        "total_steps",
        "epochs",
        "steps_per_epoch",
        "pct_start",
        "anneal_strategy",
        "cycle_momentum",
        "base_momentum",
        "max_momentum",
        "div_factor",
        "final_div_factor",
        "three_phase",
        "last_epoch",
    ),
    "CosineAnnealingWarmRestarts": ("optimizer", "T_0", "T_mult", "eta_min", "last_epoch"),
    "SWALR": ("optimizer", "swa_lr", "anneal_epochs", "anneal_strategy", "last_epoch"),
}
TORCH_SCHEDULERS = frozenset(SCHEDULER_SIGNATURES)
# Arguments that set every group's lr at once: one number there flattens distinct group lrs.
GROUP_BOUNDS = {"OneCycleLR": ("max_lr",), "CyclicLR": ("base_lr", "max_lr")}

# get_lr recomputes from stored bases: a manual lr edit is overwritten at the next step, and a
# second scheduler stepped before it is erased (semantics §2.2, §3.1).
CLOSED_FORM = frozenset({"LambdaLR", "CyclicLR", "OneCycleLR", "CosineAnnealingWarmRestarts"})
# get_lr multiplies the current group lr: edits persist and compound.
CHAINABLE = frozenset(
    {
        "MultiplicativeLR",
        "StepLR",
        "MultiStepLR",
        "ConstantLR",
        "LinearLR",
        "ExponentialLR",
        "PolynomialLR",
        "CosineAnnealingLR",
        "ReduceLROnPlateau",
    }
)
# Chainable ones whose ``step(epoch)`` (deprecated) takes the closed-form path instead:
# the lrs are recomputed from ``base_lrs`` and the epoch, whatever the groups held.
EPOCH_CLOSED_FORM = CHAINABLE - {"MultiplicativeLR", "ReduceLROnPlateau"}
# Chainable ones whose step multiplies the current lr by a factor of the counter alone (gamma
# at a milestone, 1 between them): a lr written before a step is carried on as if it had
# been the schedule's own.
DECAY_BY_FACTOR = frozenset({"StepLR", "MultiStepLR", "ExponentialLR", "MultiplicativeLR"})
# Neither: they delegate to children, or blend (SWALR).
COMPOSITE = frozenset({"SequentialLR", "ChainedScheduler"})

# step(x) takes a legitimate argument on these (a metric, a fractional epoch).
STEP_TAKES_ARGUMENT = frozenset({"ReduceLROnPlateau", "CosineAnnealingWarmRestarts"})

# Counted in iterations (optimizer steps), not epochs.
PER_ITERATION = frozenset({"OneCycleLR", "CyclicLR"})

# transformers/diffusers schedules whose factor is 1 at every step (`get_scheduler("constant",
# ...)` included): how often one is stepped changes no lr.
CONSTANT_SCHEDULES = frozenset({"get_constant_schedule", "ConstantLRSchedule"})

# transformers' schedule factories all return a torch LambdaLR (closed form, counted in
# optimizer steps), except get_reduce_on_plateau_schedule.
TRANSFORMERS_MODULES = ("transformers", "transformers.optimization")
TRANSFORMERS_FACTORIES = {
    "get_constant_schedule": ("optimizer", "last_epoch"),
    "get_constant_schedule_with_warmup": ("optimizer", "num_warmup_steps", "last_epoch"),
    "get_linear_schedule_with_warmup": (
        "optimizer",
        "num_warmup_steps",
        "num_training_steps",
        "last_epoch",
    ),
    "get_cosine_schedule_with_warmup": (
        "optimizer",
        "num_warmup_steps",
        "num_training_steps",
        "num_cycles",
        "last_epoch",
    ),
    "get_cosine_with_hard_restarts_schedule_with_warmup": (
        "optimizer",
        "num_warmup_steps",
        "num_training_steps",
        "num_cycles",
        "last_epoch",
    ),
    "get_polynomial_decay_schedule_with_warmup": (
        "optimizer",
        "num_warmup_steps",
        "num_training_steps",
        "lr_end",
        "power",
        "last_epoch",
    ),
    "get_inverse_sqrt_schedule": ("optimizer", "num_warmup_steps", "timescale", "last_epoch"),
    "get_cosine_with_min_lr_schedule_with_warmup": (
        "optimizer",
        "num_warmup_steps",
        "num_training_steps",
        "num_cycles",
        "last_epoch",
        "min_lr",
        "min_lr_rate",
    ),
    "get_wsd_schedule": (
        "optimizer",
        "num_warmup_steps",
        "num_decay_steps",
        "num_training_steps",
        "num_stable_steps",
    ),
    "get_scheduler": (
        "name",
        "optimizer",
        "num_warmup_steps",
        "num_training_steps",
        "scheduler_specific_kwargs",
    ),
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate": (
        "optimizer",
        "num_warmup_steps",
        "num_training_steps",
        "num_cycles",
        "last_epoch",
        "min_lr",
        "min_lr_rate",
        "warmup_lr_rate",
    ),
    # diffusers only; a LambdaLR over optimizer steps like the others.
    "get_piecewise_constant_schedule": ("optimizer", "step_rules", "last_epoch"),
}
# The schedule classes of pytorch-transformers 1.x and transformers < 2.3, LambdaLR subclasses
# that the factories above replaced (same schedules, counted in optimizer steps). Their
# parameters had other names, read as the factories' (LEGACY_KEYWORDS).
LEGACY_MODULES = (
    "pytorch_transformers",
    "pytorch_transformers.optimization",
    *TRANSFORMERS_MODULES,
)
LEGACY_SCHEDULES = {
    "WarmupLinearSchedule": ("optimizer", "num_warmup_steps", "num_training_steps", "last_epoch"),
    "WarmupCosineSchedule": (
        "optimizer",
        "num_warmup_steps",
        "num_training_steps",
        "num_cycles",
        "last_epoch",
    ),
    "WarmupCosineWithHardRestartsSchedule": (
        "optimizer",
        "num_warmup_steps",
        "num_training_steps",
        "num_cycles",
        "last_epoch",
    ),
    "WarmupConstantSchedule": ("optimizer", "num_warmup_steps", "last_epoch"),
    "ConstantLRSchedule": ("optimizer", "last_epoch"),
}
LEGACY_KEYWORDS = {
    "warmup_steps": "num_warmup_steps",
    "t_total": "num_training_steps",
    "cycles": "num_cycles",
}
TRANSFORMERS_FACTORIES.update(LEGACY_SCHEDULES)
# diffusers.optimization copies the transformers factories (same LambdaLR schedules, counted
# in optimizer steps), but its get_scheduler takes ``step_rules`` third.
DIFFUSERS_MODULES = ("diffusers", "diffusers.optimization")
DIFFUSERS_GET_SCHEDULER = (
    "name",
    "optimizer",
    "step_rules",
    "num_warmup_steps",
    "num_training_steps",
    "num_cycles",
    "power",
    "last_epoch",
)
# get_scheduler(name, ...) with a literal name is the factory it names (transformers
# SchedulerType / diffusers SchedulerType values).
NAMED_SCHEDULES = {
    "linear": "get_linear_schedule_with_warmup",
    "cosine": "get_cosine_schedule_with_warmup",
    "cosine_with_restarts": "get_cosine_with_hard_restarts_schedule_with_warmup",
    "polynomial": "get_polynomial_decay_schedule_with_warmup",
    "constant": "get_constant_schedule",
    "constant_with_warmup": "get_constant_schedule_with_warmup",
    "inverse_sqrt": "get_inverse_sqrt_schedule",
    "cosine_with_min_lr": "get_cosine_with_min_lr_schedule_with_warmup",
    "cosine_warmup_with_min_lr": "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
    "warmup_stable_decay": "get_wsd_schedule",
    "piecewise_constant": "get_piecewise_constant_schedule",
    "reduce_lr_on_plateau": "ReduceLROnPlateau",
}
# transformers factories that return a torch class other than LambdaLR.
FACTORY_RETURNS = {"get_reduce_on_plateau_schedule": "ReduceLROnPlateau"}

# Schedulers of other libraries that speak their own protocol: they write ``group["lr"]``
# themselves, in closed form from base values stored at construction, and have their own
# ``step`` API (timm: ``step(epoch, metric)`` and ``step_update(num_updates)``; mmengine's
# ParamSchedulers are stepped by its runner; detectron2's are torch LRScheduler subclasses
# counted in iterations; DeepSpeed's count ``last_batch_iteration``). Rules that know only
# the torch protocol stay silent on them; the model still knows what the name holds.
FOREIGN_SCHEDULERS = {
    "timm": (
        "timm.scheduler",
        frozenset(
            {
                "CosineLRScheduler",
                "StepLRScheduler",
                "MultiStepLRScheduler",
                "PlateauLRScheduler",
                "PolyLRScheduler",
                "TanhLRScheduler",
                "WSDLRScheduler",
                "Scheduler",
                "create_scheduler",
                "create_scheduler_v2",
                "scheduler_kwargs",
            }
        ),
    ),
    "mmengine": (
        "mmengine.optim",
        frozenset(
            {
                "CosineAnnealingLR",
                "CosineRestartLR",
                "ConstantLR",
                "ExponentialLR",
                "LinearLR",
                "MultiStepLR",
                "OneCycleLR",
                "PolyLR",
                "StepLR",
                "ReduceOnPlateauLR",
                "CosineAnnealingParamScheduler",
                "LinearParamScheduler",
                "MultiStepParamScheduler",
            }
        ),
    ),
    "detectron2": (
        "detectron2.solver",
        frozenset(
            {
                "build_lr_scheduler",
                "LRMultiplier",
                "WarmupParamScheduler",
                "WarmupMultiStepLR",
                "WarmupCosineLR",
            }
        ),
    ),
    "deepspeed": (
        "deepspeed.runtime.lr_schedules",
        frozenset({"WarmupLR", "WarmupDecayLR", "WarmupCosineLR", "OneCycle", "LRRangeTest"}),
    ),
}
# Foreign factories whose optimizer is not the first argument, and timm's schedulers up to
# ``t_in_epochs`` (so that a flag given by position is known too).
_TIMM_WARMUP = ("warmup_t", "warmup_lr_init", "warmup_prefix", "t_in_epochs")
_TIMM_CYCLES = ("cycle_mul", "cycle_decay", "cycle_limit")
FOREIGN_SIGNATURES = {
    "create_scheduler": ("args", "optimizer", "updates_per_epoch"),
    "build_lr_scheduler": ("cfg", "optimizer"),
    "CosineLRScheduler": ("optimizer", "t_initial", "lr_min", *_TIMM_CYCLES, *_TIMM_WARMUP),
    "PolyLRScheduler": ("optimizer", "t_initial", "power", "lr_min", *_TIMM_CYCLES, *_TIMM_WARMUP),
    "TanhLRScheduler": (
        "optimizer",
        "t_initial",
        "lb",
        "ub",
        "lr_min",
        *_TIMM_CYCLES,
        *_TIMM_WARMUP,
    ),
    "StepLRScheduler": ("optimizer", "decay_t", "decay_rate", *_TIMM_WARMUP),
    "MultiStepLRScheduler": ("optimizer", "decay_t", "decay_rate", *_TIMM_WARMUP),
}
# timm schedulers have two step methods, and each acts in one mode only: ``step(epoch)`` when
# the scheduler counts epochs, ``step_update(num_updates)`` when it counts updates. The
# argument that picks the mode (True, the default, counts epochs); a plateau counts epochs.
TIMM_COUNTS_EPOCHS_ARG = {
    "CosineLRScheduler": "t_in_epochs",
    "MultiStepLRScheduler": "t_in_epochs",
    "PolyLRScheduler": "t_in_epochs",
    "StepLRScheduler": "t_in_epochs",
    "TanhLRScheduler": "t_in_epochs",
    "WSDLRScheduler": "t_in_epochs",
    "create_scheduler_v2": "step_on_epochs",
}
TIMM_EPOCHS_ONLY = frozenset({"PlateauLRScheduler"})
# Factories of those libraries that return ``(scheduler, num_epochs)``.
RETURNS_SCHEDULER_FIRST = frozenset({"create_scheduler", "create_scheduler_v2"})

TORCH_OPTIMIZERS = frozenset(
    {
        "SGD",
        "Adam",
        "AdamW",
        "Adamax",
        "NAdam",
        "RAdam",
        "RMSprop",
        "Rprop",
        "Adagrad",
        "Adadelta",
        "ASGD",
        "LBFGS",
        "SparseAdam",
        "Adafactor",
        "Muon",
    }
)
# Optimizer classes reachable under these module paths behave like torch optimizers
# (bitsandbytes' derive from torch.optim.Optimizer; semantics §7.3).
OPTIMIZER_MODULE_PREFIXES = (
    "torch.optim",
    "bitsandbytes.optim",
    "bnb.optim",
    "apex.optimizers",
    "timm.optim",
    "transformers",
    "pytorch_transformers",
)
OPTIMIZER_SIGNATURE = ("params", "lr")
# Under those other packages, a class whose name contains one of these is an optimizer.
OPTIMIZER_NAME_PARTS = ("Adam", "SGD", "Lion", "LAMB", "Lamb", "Adafactor", "RMS")


def named_like_optimizer(name, own=False) -> bool:
    """A class name that reads as an optimizer's (``WarmupCosineAdamW``, ``RMSpropTF``), not
    as a layer's sharing a part with one (``LlamaRMSNorm``, ``RMSNorm``: normalisation layers
    are called all over model code). ``own``: a class of the checked project, where a name
    with ``Optim`` (``NoamOptimizer``) counts too."""
    if "Norm" in name:
        return False
    return any(k in name for k in OPTIMIZER_NAME_PARTS) or own and "Optim" in name


# The base class of optimizer implementations (not a user-facing optimizer).
OPTIMIZER_BASES = frozenset({"torch.optim.Optimizer", "torch.optim.optimizer.Optimizer"})
SCHEDULER_BASES = frozenset(
    {
        "torch.optim.lr_scheduler.LRScheduler",
        "torch.optim.lr_scheduler._LRScheduler",
    }
)


def scheduler_class(qualified):
    """Short torch/transformers/diffusers scheduler name for a qualified callee, else None."""
    if not qualified:
        return None
    module, _, last = qualified.rpartition(".")
    if module in TORCH_SCHEDULER_MODULES and last in TORCH_SCHEDULERS:
        return last
    if last in LEGACY_SCHEDULES:
        return last if module in LEGACY_MODULES else None
    if module in TRANSFORMERS_MODULES + DIFFUSERS_MODULES and last in TRANSFORMERS_FACTORIES:
        return last
    if module in TRANSFORMERS_MODULES and last in FACTORY_RETURNS:
        return last
    return None


# ``getattr(torch.optim.lr_scheduler, cfg.name)(optimizer, **cfg.args)``: a torch scheduler
# whose class is chosen at run time. It is recorded under the base class's name, which no
# rule's class set holds, so only what every torch scheduler does is asked of it.
CHOSEN_BY_NAME = "LRScheduler"


# hydra's ``instantiate(cfg.scheduler, optimizer=opt)`` builds what a config file's
# ``_target_`` names. Only the config node's name, read by ``configured_kind``, tells a
# scheduler from an optimizer; the scheduler is recorded as one chosen by name.
CONFIG_BUILDERS = frozenset({"hydra.utils.instantiate", "hydra.utils.call"})


def module_kind(qualified):
    """ "scheduler" or "optimizer" for a module handed as an argument to a factory that picks
    a class from it by a config's name (``config.init_obj("lr_scheduler",
    torch.optim.lr_scheduler, optimizer)``), else None."""
    if qualified in TORCH_SCHEDULER_MODULES:
        return "scheduler"
    if qualified == "torch.optim":
        return "optimizer"
    return None


def configured_kind(config):
    """ "scheduler" or "optimizer" for the dotted name of the config node a CONFIG_BUILDERS
    call is given (``cfg.lr_scheduler``, ``self.cfg.optim``), else None."""
    last = (config or "").rpartition(".")[2].lower()
    if "sched" in last:
        return "scheduler"
    if "optim" in last:
        return "optimizer"
    return None


def scheduler_by_name(module, name):
    """Short name for ``getattr(module, name)`` called as a scheduler: ``name`` itself when
    it is a literal torch scheduler class, CHOSEN_BY_NAME when it is not a literal, else None
    (``module`` and ``name`` as qualified/literal strings; ``name`` None when not literal)."""
    if module not in TORCH_SCHEDULER_MODULES:
        return None
    if name is None:
        return CHOSEN_BY_NAME
    return name if name in TORCH_SCHEDULERS else None


def foreign_scheduler(qualified):
    """``(short name, library)`` for a scheduler class or factory of another library's
    protocol (see FOREIGN_SCHEDULERS), else None."""
    if not qualified:
        return None
    module, _, last = qualified.rpartition(".")
    for library, (prefix, names) in FOREIGN_SCHEDULERS.items():
        if last in names and (module == prefix or module.startswith(prefix + ".")):
            return last, library
    return None


def is_transformers_factory(short):
    return short in TRANSFORMERS_FACTORIES or short in FACTORY_RETURNS


def signature_of(short, qualified=None):
    """Constructor parameters in order; ``qualified`` tells diffusers' get_scheduler apart."""
    if short == "get_scheduler" and qualified and qualified.rpartition(".")[0] in DIFFUSERS_MODULES:
        return DIFFUSERS_GET_SCHEDULER
    if short in FACTORY_RETURNS:
        return ("optimizer",)
    return (
        SCHEDULER_SIGNATURES.get(short)
        or TRANSFORMERS_FACTORIES.get(short)
        or FOREIGN_SIGNATURES.get(short)
        or ()
    )


def resolve_factory(short, args):
    """What a Hugging Face factory call builds: ``(short, origin)``.

    ``get_scheduler("cosine", ...)`` is ``get_cosine_schedule_with_warmup``;
    ``get_scheduler("reduce_lr_on_plateau", ...)`` and ``get_reduce_on_plateau_schedule`` are
    a torch ``ReduceLROnPlateau``. A name that is not a literal stays ``get_scheduler``
    (whose kind is unknown). ``args`` maps parameter names to Values; for a legacy class
    (LEGACY_SCHEDULES) its keywords are renamed in place to the factory's
    (``t_total=`` becomes ``num_training_steps``), so every rule reads one set of names.
    """
    if short == "get_scheduler":
        name = args.get("name")
        short = NAMED_SCHEDULES.get(getattr(name, "string", None), short)
    if short in LEGACY_SCHEDULES:
        for old, new in LEGACY_KEYWORDS.items():
            if old in args and new not in args:
                args[new] = args.pop(old)
    short = FACTORY_RETURNS.get(short, short)
    return short, "torch" if short in TORCH_SCHEDULERS else "transformers"


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
        if last in TORCH_OPTIMIZERS or named_like_optimizer(last):
            return last
    return None


def is_closed_form(short):
    return short in CLOSED_FORM or short in TRANSFORMERS_FACTORIES and short != "get_scheduler"
