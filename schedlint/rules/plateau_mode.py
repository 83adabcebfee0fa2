import re

from schedlint.model import catalogue
from schedlint.model.frameworks import lightning_steps
from schedlint.model.usage import built_with_star_args, name_of, names_of, value_name
from schedlint.rules.base import Report, clip, rule

# Words of a metric's name that say higher is better, and words that say it is lower-better
# whatever else the name holds (`acc_loss`, `top1_err`). Kept small on purpose: `score`,
# `metric` or `val` say nothing about the direction.
_HIGHER = re.compile(
    r"acc\d*|accuracy|auc|auroc|bleu\d*|dice|iou|miou|map\d*|psnr|ssim|f1|top\d+|precision|recall"
)
_LOWER = frozenset(
    {"loss", "losses", "error", "errors", "err", "perplexity", "ppl", "wer", "cer", "nll", "cost"}
    | {"mae", "mse", "rmse", "distance", "dist"}
    # a higher-is-better metric turned around before it is passed (`neg_acc = -acc`)
    | {"neg", "negative", "minus", "inv", "inverse"}
)
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


def _says_nothing(name: str) -> bool:
    """A name with no word for either direction (``metric``, ``value``, ``score``)."""
    words = _words(name)
    return not words & _LOWER and not any(_HIGHER.fullmatch(w) for w in words)


def _metric_names(model, call, value):
    """The names the metric ``value`` is read under at ``call``: its own, or, for a
    parameter of the calling function whose name says nothing (``metric``), what every
    call of that function passes."""
    name = value_name(value.node)
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


def _min_mode(sched) -> bool:
    """Built as a ReduceLROnPlateau that certainly minimises: ``mode`` left at its default or
    given as the literal "min", with every argument seen."""
    if sched.cls != "ReduceLROnPlateau" or not set(sched.args) <= _PLATEAU_ARGS:
        return False
    if built_with_star_args(sched):
        return False
    mode = sched.args.get("mode")
    return mode is None or mode.string == "min"


@rule("SL214", "plateau-min-mode-on-score", "error")
def plateau_min_mode_on_score(model):
    """`ReduceLROnPlateau` in mode "min" (the default) stepped with a higher-is-better metric.

    ## What it does
    Flags `scheduler.step(val_acc)` when `scheduler` is a `ReduceLROnPlateau` built without
    `mode` (or with `mode="min"`) and the metric's name says higher is better: a variable,
    attribute or string key named `acc`, `val_acc`, `top1`, `acc1`, `auc`, `f1`, `map50`,
    `bleu`, `dice`, `iou`, `psnr`, `ssim`, `precision` or `recall` (as a word: `accum` is
    not `acc`), also when a helper steps it with a parameter every caller fills that way,
    and when Lightning steps it with the logged metric its `"monitor"` names (`"val_acc"`).
    Never when the mode is anything else or not known, when the name also says `loss`,
    `err`, `perplexity`, `wer`, `cer`..., or when the value is computed (`-acc`, `1 - acc`).

    ## Why is this bad?
    In mode "min" a metric that stops *decreasing* is a plateau. An accuracy that keeps
    improving never decreases, so after `patience` epochs the lr is cut while the model is
    still getting better, then cut again every `patience` epochs; a real plateau is never
    noticed. Nothing warns: the run just ends with a tiny lr and a worse model.

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
        if not scheds or not all(_min_mode(s) for s in scheds):
            continue
        metric_names = _metric_names(model, call, value)
        if not all(_higher_is_better(n) for n in metric_names):
            continue
        sched = scheds[-1]
        shown = f"`{clip(value.src, 30)}`"
        if metric_names != [value_name(value.node)]:
            shown += f" (`{clip(metric_names[0], 30)}` where it is called)"
        yield Report(
            value.node,
            f"{shown} is higher-is-better, but ReduceLROnPlateau `{clip(call.receiver, 30)}` "
            f'is in mode "min"',
            help=f"{name_of(sched)} ({model.where(sched.node)}) treats a metric that stops "
            "decreasing as a plateau, so it cuts the lr while the model keeps improving and "
            'never when it stalls; build it with `mode="max"`',
        )
    for entry in lightning_steps(model):
        monitor = entry.monitor
        if monitor is None or not _min_mode(entry.scheduler):
            continue
        if not _higher_is_better(monitor.string):
            continue
        yield Report(
            monitor.node,
            f"Lightning steps ReduceLROnPlateau with `{clip(monitor.string, 30)}`, "
            f'higher-is-better, but it is in mode "min"',
            help=f"The ReduceLROnPlateau ({model.where(entry.scheduler.node)}) treats a "
            "metric that stops decreasing as a plateau, so it cuts the lr while the model "
            'keeps improving and never when it stalls; build it with `mode="max"`',
        )
