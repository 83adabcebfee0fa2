from schedlint import catalogue
from schedlint.rules._scheduler_usage import Names, args_edit, name_of, words
from schedlint.rules.base import Fix, Report, rule

METRIC_WORDS = frozenset({
    "loss", "losses", "acc", "accuracy", "metric", "metrics", "score", "f1", "auc", "map",
    "ppl", "perplexity", "top1", "top5", "bleu", "iou", "miou", "dice", "psnr", "error", "err",
    "wer", "cer", "prec", "precision", "recall", "val", "valid", "validation", "eval", "best",
})
_COUNTER_WORDS = frozenset({"epoch", "epochs", "step", "steps", "iter", "iteration", "it", "i",
                            "idx", "e", "ep", "n", "t", "batch", "global"})
_NO_ARGUMENT = frozenset({"SequentialLR", "ChainedScheduler"})


def _loop_counter(call, value) -> bool:
    """The argument is a bare name that an enclosing loop iterates over."""
    if value.kind != "name":
        return False
    return any(value.src in loop.targets for loop in call.loops)


@rule("SL204", "epoch-passed-to-step", "warning", fixable="sometimes")
def epoch_passed_to_step(model):
    """An argument passed to `scheduler.step()` of a scheduler that takes none.

    ## What it does
    Flags `scheduler.step(x)` (or `step(epoch=x)`) on a torch scheduler other than
    `ReduceLROnPlateau` (whose argument is the metric) and `CosineAnnealingWarmRestarts` (which
    legitimately takes a fractional epoch). Only schedulers constructed in the file are
    considered, so timm schedulers, whose `step(epoch)` is their own API, are never flagged.

    ## Why is this bad?
    The `epoch` argument is deprecated: it switches the scheduler to its closed-form formula,
    sets `last_epoch` to whatever was passed and warns. When the value is a loss or an accuracy
    (a copy-paste from `ReduceLROnPlateau`), it is silently taken as the epoch, so the learning
    rate is computed at a fractional "epoch" such as 0.734. `SequentialLR` and
    `ChainedScheduler` raise `TypeError`.

    ## Example
    ```python
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
    for epoch in range(epochs):
        val_loss = train_and_validate()
        scheduler.step(val_loss)
    ```

    ## Use instead
    ```python
        scheduler.step()
    ```
    (or use `ReduceLROnPlateau` if the schedule should follow the metric).

    ## Fix
    Safe when the argument is the loop counter (`scheduler.step(epoch)` inside
    `for epoch in ...`): dropping it gives the same schedule through the supported path. No fix
    when the argument is something else, since the intended schedule is then unclear.
    """
    names = Names(model)
    for call in model.calls:
        if call.method != "step" or not (call.args or "epoch" in call.kwargs):
            continue
        if any(a.star for a in call.node.args):
            continue
        arg = call.args[0] if call.args else call.kwargs["epoch"]
        if arg.kind == "none":
            continue
        scheds = names.schedulers(call)
        if scheds is None or any(s.cls in catalogue.STEP_TAKES_ARGUMENT or s.cls == "get_scheduler"
                                 for s in scheds):
            continue
        sched = scheds[-1]
        where = f"{name_of(sched)} (`{sched.cls}`, line {model.line(sched.node)})"
        fix = None
        if all(s.cls in _NO_ARGUMENT for s in scheds):
            message = (f"`{call.receiver}.step({arg.src})` on {where}: `{sched.cls}.step()` takes "
                       f"no argument and raises TypeError; call `{call.receiver}.step()`")
        else:
            w = words(arg)
            metric = bool(w & METRIC_WORDS) and not (w & _COUNTER_WORDS)
            if metric:
                message = (f"`{call.receiver}.step({arg.src})` on {where}: "
                           f"`{arg.src}` looks like a metric, but `{sched.cls}` takes it as the "
                           f"epoch (deprecated closed-form path), so the lr is computed at "
                           f"epoch {arg.src}; call `{call.receiver}.step()`, or use "
                           f"ReduceLROnPlateau to follow the metric")
            else:
                message = (f"`{call.receiver}.step({arg.src})` on {where}: passing the epoch to "
                           f"`step()` is deprecated (it warns and switches to the closed-form "
                           f"path, setting `last_epoch` to `{arg.src}`); call "
                           f"`{call.receiver}.step()` once per epoch instead")
            if not metric and len(call.args) + len(call.kwargs) == 1 and _loop_counter(call, arg):
                fix = Fix("safe", "Drop the epoch argument", (args_edit(model, call.node),))
        yield Report(call.node, message, fix=fix)
