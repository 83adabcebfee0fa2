import re

from schedlint.model import catalogue
from schedlint.model.frameworks import lightning_steps
from schedlint.model.usage import (
    built_with_star_args,
    name_of,
    names_of,
    order_kept_name,
    value_name,
)
from schedlint.rules.base import Report, clip, rule

# Words of a metric's name that say higher is better, and words that say it is lower-better
# whatever else the name holds (`acc_loss`, `top1_err`). Kept small on purpose: `score`,
# `metric` or `val` say nothing about the direction.
_HIGHER = re.compile(
    r"acc\d*|accuracy|auc|auroc|bleu\d*|dice|iou|miou|map\d*|psnr|ssim|f1|top\d+|precision|recall"
)
_LOWER_METRIC = frozenset(
    {"loss", "losses", "error", "errors", "err", "perplexity", "ppl", "wer", "cer", "nll", "cost"}
    | {"mae", "mse", "rmse", "distance", "dist"}
)
# a metric turned around before it is passed (`neg_acc = -acc`, `neg_loss`)
_NEGATED = frozenset({"neg", "negative", "minus", "inv", "inverse"})
_LOWER = _LOWER_METRIC | _NEGATED
_CAMEL = re.compile(r"[A-Z]?[a-z]+\d*|[A-Z]+\d*(?![a-z])|\d+")
_PLATEAU_ARGS = frozenset(catalogue.SCHEDULER_SIGNATURES["ReduceLROnPlateau"])


def _words(name: str) -> set:
    tokens = [t for t in re.split(r"[^0-9A-Za-z]+", name) if t]
    return {t.lower() for t in tokens} | {w.lower() for t in tokens for w in _CAMEL.findall(t)}


def _higher_is_better(name: str | None) -> bool:
    """``val_acc``, ``top1``, ``mAP50``, ``valAcc``: a name made of words, one of which names
    a higher-is-better metric and none a lower-is-better one (``accum`` is not ``acc``)."""
    if not name:
        return False
    words = _words(name)
    return not words & _LOWER and any(_HIGHER.fullmatch(w) for w in words)


def _lower_is_better(name: str | None) -> bool:
    """``val_loss``, ``valid_rmse``, ``wer``: a name with a lower-is-better word, and no word
    that turns it around (``neg_loss``) or names a score (``acc_loss`` says both)."""
    if not name:
        return False
    words = _words(name)
    if not words & _LOWER_METRIC or words & _NEGATED:
        return False
    return not any(_HIGHER.fullmatch(w) for w in words)


def _says_nothing(name: str) -> bool:
    """A name with no word for either direction (``metric``, ``value``, ``score``)."""
    words = _words(name)
    return not words & _LOWER and not any(_HIGHER.fullmatch(w) for w in words)


def _metric_names(model, call, value):
    """The names the metric ``value`` is read under at ``call``: its own, or, for a
    parameter of the calling function whose name says nothing (``metric``), what every
    call of that function passes."""
    name = order_kept_name(value.node)
    scope = call.scope
    if (
        name is None
        or value.kind != "name"
        or name not in scope.params
        or name in scope.assigned
        or not _says_nothing(name)
    ):
        return [name]
    passed = model.arguments(scope, name)
    return [value_name(node) for _, node in passed] if passed else [None]


def _mode(sched) -> str | None:
    """The mode, "min" or "max", of a ReduceLROnPlateau whose mode is certain: left at its
    default ("min") or given as a literal, with every argument seen; None otherwise."""
    if sched.cls != "ReduceLROnPlateau" or not set(sched.args) <= _PLATEAU_ARGS:
        return None
    if built_with_star_args(sched):
        return None
    mode = sched.args.get("mode")
    if mode is None:
        return "min"
    return mode.string if mode.string in ("min", "max") else None


# For each mode, what a metric that runs the wrong way looks like, what it is called, and the
# mode to build with instead.
_WRONG_WAY = {
    "min": (_higher_is_better, "higher-is-better", "decreasing", "max"),
    "max": (_lower_is_better, "lower-is-better", "increasing", "min"),
}


def _wrong_way(scheds):
    """The one certain mode of ``scheds`` and its _WRONG_WAY entry, or None."""
    modes = {_mode(s) for s in scheds}
    if len(modes) != 1 or None in modes:
        return None
    mode = modes.pop()
    return mode, _WRONG_WAY[mode]


@rule("SL214", "plateau-min-mode-on-score", "error")
def plateau_min_mode_on_score(model):
    """`ReduceLROnPlateau` in mode "min" (the default) stepped with a score, or "max" with a loss.

    ## What it does
    Flags `scheduler.step(val_acc)` when `scheduler` is a `ReduceLROnPlateau` built without
    `mode` (or with `mode="min"`) and the metric's name says higher is better: a variable,
    attribute or string key named `acc`, `val_acc`, `top1`, `acc1`, `auc`, `f1`, `map50`,
    `bleu`, `dice`, `iou`, `psnr`, `ssim`, `precision` or `recall` (as a word: `accum` is
    not `acc`), also when a helper steps it with a parameter every caller fills that way,
    and when Lightning steps it with the logged metric its `"monitor"` names (`"val_acc"`).
    Never when the mode is anything else or not known, when the name also says `loss`,
    `err`, `perplexity`, `wer`, `cer`..., or when the value is computed (`-acc`, `1 - acc`);
    a value only rounded or scaled (`round(acc, 4)`, `acc.item()`,
    `math.ceil(loss * 1000) / 1000`) keeps its name. The mirror is flagged too: a plateau
    built with `mode="max"` stepped with a lower-is-better metric (`val_loss`, `wer`, `rmse`,
    not `neg_loss`), often left over when the tracked metric was switched from a score to
    the loss.

    ## Why is this bad?
    In mode "min" a metric that stops *decreasing* is a plateau. An accuracy that keeps
    improving never decreases, so after `patience` epochs the lr is cut while the model is
    still getting better, then cut again every `patience` epochs; a real plateau is never
    noticed (in mode "max", a falling loss the same way). Nothing warns: the run just ends
    with a tiny lr and a worse model.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=5)
    for epoch in range(epochs):
        train_one_epoch(model, optimizer)
        val_acc = evaluate(model)
        scheduler.step(val_acc)
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", patience=5)
    for epoch in range(epochs):
        train_one_epoch(model, optimizer)
        val_acc = evaluate(model)
        scheduler.step(val_acc)
    ```
    """
    names = names_of(model)
    for call in model.calls:
        if call.method != "step":
            continue
        value = call.args[0] if call.args else call.kwargs.get("metrics")
        if value is None:
            continue
        scheds = names.schedulers(call)
        found = _wrong_way(scheds) if scheds else None
        if found is None:
            continue
        mode, (runs_wrong_way, kind, stops, instead) = found
        metric_names = _metric_names(model, call, value)
        if not all(runs_wrong_way(n) for n in metric_names):
            continue
        sched = scheds[-1]
        shown = f"`{clip(value.src, 30)}`"
        if metric_names != [value_name(value.node)] and metric_names != [
            order_kept_name(value.node)
        ]:
            shown += f" (`{clip(metric_names[0], 30)}` where it is called)"
        yield Report(
            value.node,
            f"{shown} is {kind}, but ReduceLROnPlateau `{clip(call.receiver, 30)}` "
            f'is in mode "{mode}"',
            help=f"{name_of(sched)} ({model.where(sched.node)}) treats a metric that stops "
            f"{stops} as a plateau, so it cuts the lr while the model keeps improving and "
            f'never when it stalls; build it with `mode="{instead}"`',
        )
    for entry in lightning_steps(model):
        monitor = entry.monitor
        found = _wrong_way([entry.scheduler]) if monitor is not None else None
        if found is None:
            continue
        mode, (runs_wrong_way, kind, stops, instead) = found
        if not runs_wrong_way(monitor.string):
            continue
        yield Report(
            monitor.node,
            f"Lightning steps ReduceLROnPlateau with `{clip(monitor.string, 30)}`, "
            f'{kind}, but it is in mode "{mode}"',
            help=f"The ReduceLROnPlateau ({model.where(entry.scheduler.node)}) treats a "
            f"metric that stops {stops} as a plateau, so it cuts the lr while the model "
            f'keeps improving and never when it stalls; build it with `mode="{instead}"`',
        )
