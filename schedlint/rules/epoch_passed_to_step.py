from schedlint.model import catalogue
from schedlint.model.usage import (
    args_edit,
    branches_of,
    has_star_args,
    is_if,
    name_of,
    names_of,
    plus_one,
    starts_at_zero,
    words,
)
from schedlint.rules.base import Fix, Report, clip, rule

METRIC_WORDS = frozenset(
    {
        "loss",
        "losses",
        "acc",
        "accuracy",
        "metric",
        "metrics",
        "score",
        "f1",
        "auc",
        "map",
        "ppl",
        "perplexity",
        "top1",
        "top5",
        "bleu",
        "iou",
        "miou",
        "dice",
        "psnr",
        "error",
        "err",
        "wer",
        "cer",
        "prec",
        "precision",
        "recall",
        "val",
        "valid",
        "validation",
        "eval",
        "best",
    }
)
_COUNTER_WORDS = frozenset(
    {
        "epoch",
        "epochs",
        "step",
        "steps",
        "iter",
        "iteration",
        "it",
        "i",
        "idx",
        "e",
        "ep",
        "n",
        "t",
        "batch",
        "global",
    }
)
_NO_ARGUMENT = frozenset({"SequentialLR", "ChainedScheduler"})


def _counter_loop(call, name):
    """The innermost enclosing ``for`` loop whose target is ``name``, else None."""
    return next((loop for loop in call.loops if loop.kind == "for" and name in loop.targets), None)


def _epoch_fix(model, call, arg, branches, steps):
    """Drop the argument: safe when ``step(e + 1)`` at every pass of ``for e in range(n)`` (the
    same counts as ``step()``), unsafe for ``step(e)`` (the schedule moves one epoch earlier,
    which is usually what was meant)."""
    if len(call.args) + len(call.kwargs) != 1:
        return None
    edit = (args_edit(model, call.node),)
    if arg.kind == "name":
        if _counter_loop(call, arg.src) is None:
            return None
        return Fix(
            "unsafe",
            "Drop the epoch argument (the schedule then runs one epoch "
            "earlier: `step(epoch)` re-applies the previous epoch's value)",
            edit,
        )
    counter = plus_one(arg)
    if counter is not None:
        loop = _counter_loop(call, counter)
        if (
            loop is None
            or call.loop is not loop
            or not starts_at_zero(loop)
            or len(steps) != 1
            or branches.path(call) != branches.path_in(loop.node, loop.scope.node)
        ):
            return None
        return Fix("safe", "Drop the epoch argument", edit)
    return None


def _is_metric(arg) -> bool:
    w = words(arg)
    return bool(w & METRIC_WORDS) and not (w & _COUNTER_WORDS)


def _beside_plateau(call, scheds, arg, branches) -> list:
    """The schedulers other than ``ReduceLROnPlateau`` that a loop over a mixed container
    (``for s in [StepLR(...), ReduceLROnPlateau(...)]: s.step(val_loss)``) hands the metric
    to, else []. Only when every pass does it: the loop variable is the receiver and no ``if``
    inside the loop picks which schedulers get the argument."""
    loop = call.loop
    if loop is None or call.receiver not in loop.targets or not _is_metric(arg):
        return []
    inner = branches.path(call)[len(branches.path_in(loop.node, loop.scope.node)) :]
    if any(is_if(node) for node, _ in inner):
        return []
    return [s for s in scheds if s.cls not in catalogue.STEP_TAKES_ARGUMENT]


@rule("SL204", "epoch-passed-to-step", "warning", fixable="sometimes")
def epoch_passed_to_step(model):
    """An argument passed to `scheduler.step()` of a scheduler that takes none.

    ## What it does
    Flags `scheduler.step(x)` (or `step(epoch=x)`) on a torch scheduler other than
    `ReduceLROnPlateau` (whose argument is the metric) and `CosineAnnealingWarmRestarts` (which
    legitimately takes a fractional epoch). Only schedulers constructed in the file are
    considered, so timm schedulers, whose `step(epoch)` is their own API, are never flagged.
    A loop over a list or dict that mixes `ReduceLROnPlateau` with other schedulers and hands
    every entry the metric (`for s in schedulers: s.step(val_loss)`) is flagged for the others,
    unless an `if` in the loop chooses which ones get it.

    ## Why is this bad?
    The `epoch` argument is deprecated: it switches the scheduler to its closed-form formula,
    sets `last_epoch` to whatever was passed and warns. When the value is a loss or an accuracy
    (a copy-paste from `ReduceLROnPlateau`), it is silently taken as the epoch, so the learning
    rate is computed at a fractional "epoch" such as 0.734. `SequentialLR` and
    `ChainedScheduler` raise `TypeError`.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
    for epoch in range(epochs):
        val_loss = train_and_validate()
        scheduler.step(val_loss)
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
    for epoch in range(epochs):
        val_loss = train_and_validate()
        scheduler.step()
    ```
    (or use `ReduceLROnPlateau` if the schedule should follow the metric).

    ## Fix
    Safe for `scheduler.step(epoch + 1)` called once in every pass of
    `for epoch in range(n)`: `step()` makes exactly the same steps. Unsafe for
    `scheduler.step(epoch)` with the loop counter: `step(epoch)` at the end of epoch `e`
    re-applies epoch `e`'s value, so the passed-epoch schedule lags one epoch behind, and
    dropping the argument moves every milestone one epoch earlier (usually what was meant,
    but a behaviour change). No fix when the argument is anything else (a metric, an
    expression): the intended schedule is then unclear.
    """
    names = names_of(model)
    branches = branches_of(model)
    for call in model.calls:
        if call.method != "step" or not (call.args or "epoch" in call.kwargs):
            continue
        if has_star_args(call):
            continue
        arg = call.args[0] if call.args else call.kwargs["epoch"]
        if arg.kind == "none":
            continue
        scheds = names.schedulers(call)
        if scheds is None:
            continue
        beside_plateau = any(s.cls in catalogue.STEP_TAKES_ARGUMENT for s in scheds)
        if beside_plateau:
            scheds = _beside_plateau(call, scheds, arg, branches)
        if not scheds or any(s.cls in ("get_scheduler", catalogue.CHOSEN_BY_NAME) for s in scheds):
            continue
        sched = scheds[-1]
        where = f"{name_of(sched)} (`{sched.cls}`, {model.where(sched.node)})"
        fix = None
        shown = f"`{clip(call.receiver, 30)}.step({clip(arg.src, 20)})`"
        if all(s.cls in _NO_ARGUMENT for s in scheds):
            message = f"{shown} raises TypeError: `{sched.cls}.step()` takes no argument"
            help_text = f"Call `{call.receiver}.step()` on {where}"
        else:
            metric = _is_metric(arg)
            if beside_plateau:
                message = f"{shown} hands the metric to `{sched.cls}` too, as its epoch"
                help_text = (
                    f"Only ReduceLROnPlateau takes a metric: the `{sched.cls}` of "
                    f"{model.where(sched.node)} takes `{arg.src}` as the "
                    f"epoch (deprecated closed-form path); step ReduceLROnPlateau with the "
                    f"metric and the others with `step()`"
                )
            elif metric:
                message = f"{shown} passes what looks like a metric as the epoch"
                help_text = (
                    f"{where} takes `{arg.src}` as the epoch (deprecated closed-form "
                    f"path), so the lr is computed at epoch {arg.src}; call "
                    f"`{call.receiver}.step()`, or use ReduceLROnPlateau to follow the "
                    f"metric"
                )
            else:
                message = f"{shown} passes the epoch to `step()`, which is deprecated"
                help_text = (
                    f"On {where} it warns and switches to the closed-form path, "
                    f"setting `last_epoch` to `{arg.src}`; call "
                    f"`{call.receiver}.step()` once per epoch instead"
                )
            if not metric and len(scheds) == 1 and "last_epoch" not in sched.args:
                fix = _epoch_fix(model, call, arg, branches, model.steps_of(sched))
        yield Report(call.node, message, fix=fix, help=help_text)
