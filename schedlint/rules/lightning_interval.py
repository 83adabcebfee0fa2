import re

from schedlint.model.catalogue import PER_ITERATION as _PER_ITERATION
from schedlint.model.frameworks import lightning_choices
from schedlint.model.usage import ITER_WORDS, is_epoch_word, sized_in
from schedlint.rules.base import Report, clip, rule
from schedlint.rules.step_granularity import (
    granularity,
    keeps_its_lr,
    length_words,
    sized_by_transformers_api,
)

_LAMBDA_CLASSES = ("LambdaLR", "MultiplicativeLR")


def _lambda_counts_steps(model, sched) -> bool:
    """A LambdaLR whose factor function reads a step count (``lambda step: ...``,
    ``def lr_lambda(current_step): ...``, warm-up over ``warmup_steps``)."""
    fn = sched.args.get("lr_lambda")
    if fn is None:
        return False
    if fn.kind == "lambda":
        return sized_in([fn]) == "iterations"
    # a def of this file or of the module that built the scheduler, or a method
    # (``self.lr_lambda``)
    infos = model.callees(fn.node, sched.scope) if fn.kind in ("name", "attr") else []
    owner = sched.scope.cls
    if (
        not infos
        and owner is not None
        and fn.dotted
        and fn.dotted.startswith("self.")
        and fn.dotted.count(".") == 1
        and fn.dotted[5:] in owner.methods
    ):
        infos = [owner.methods[fn.dotted[5:]]]  # a method of the module itself
    if len(infos) != 1:
        return False
    params = infos[0].params[1:] if infos[0].scope.cls is not None else infos[0].params
    said = set(re.findall(r"[a-z]+", params[0].lower())) if params else set()
    return bool(said & ITER_WORDS) and not any(is_epoch_word(w) for w in said)


# "step" alone often names a decay step counted in epochs (`scheduler_step`, `lr_step`).
_STRONG_ITER_WORDS = ITER_WORDS - {"step", "update"}


_COMPOSITES = ("SequentialLR", "ChainedScheduler")


def _children_say(model, sched, own, other):
    """For a SequentialLR/ChainedScheduler: why a child is ``own`` (per step or per epoch)
    when no child says ``other``; else None."""
    if sched.cls not in _COMPOSITES or not sched.children:
        return None
    if any(other(model, c) is not None for c in sched.children):
        return None
    for child in sched.children:
        why = own(model, child)
        if why is not None:
            return (
                f"built from a `{child.cls}` {why.removeprefix('its ')}"
                if why.startswith("its ")
                else f"built from a `{child.cls}` {why}"
            )
    return None


def _reason(why: str) -> str:
    """The reason as the help's first clause: "It is sized in ...", or "Its `lr_lambda`
    counts steps" for a reason that names what of the scheduler says so."""
    return f"I{why[1:]}" if why.startswith("its ") else f"It is {why}"


def per_step(model, sched):
    """Why ``sched`` is meant to advance once per optimizer step, or None."""
    if keeps_its_lr(sched):
        return None
    if sched.cls in _COMPOSITES:
        return _children_say(model, sched, per_step, per_epoch)
    kind = granularity(sched, model)
    if kind is not None:
        if kind[0] != "iteration":
            return None
        if (
            sched.cls in _PER_ITERATION
            or sched.origin == "transformers"
            or length_words(sched, model) & _STRONG_ITER_WORDS
        ):
            return kind[1]
        return None
    if sched.cls in _LAMBDA_CLASSES and _lambda_counts_steps(model, sched):
        return f"its `lr_lambda` counts steps ({sched.args['lr_lambda'].src[:40]})"
    if sched.cls == "CyclicLR":
        # no unit in its sizes tells an epoch count: torch documents them as training
        # iterations, and its cycle as stepped after every batch
        return "a `CyclicLR`, whose half-cycle counts training iterations"
    # Lightning steps nothing by itself in a unit a literal could tell; the schedule's own
    # parameters then say what one step is.
    return sized_by_transformers_api(sched)


def per_epoch(model, sched):
    if sched.cls in _COMPOSITES:
        return _children_say(model, sched, per_epoch, per_step)
    kind = granularity(sched, model)
    return kind[1] if kind is not None and kind[0] == "epoch" else None


@rule("SL209", "lightning-interval-mismatch", "warning")
def lightning_interval_mismatch(model):
    """A per-step schedule returned from `configure_optimizers` without `"interval": "step"`.

    ## What it does
    Reads what a LightningModule's `configure_optimizers` returns (an `[opt], [sched]` pair, a
    `{"optimizer": ..., "lr_scheduler": ...}` dict, a scheduler config dict, or a list of
    them; a config dict may come from a method of the module or of a base class in the same
    file, `self._lr_config(optimizer)`)
    and flags a scheduler meant to advance once per optimizer step (`OneCycleLR`,
    `CyclicLR` whatever its sizes, the transformers `get_*_schedule_with_warmup` schedules, a `LambdaLR` over a
    step count, a `CosineAnnealingLR` sized with `estimated_stepping_batches`, a
    `SequentialLR` chaining a warm-up sized in steps; built inline, by a helper of this or
    another module of the tree, with its `lr_lambda` a function or a method; a transformers
    schedule counts optimizer steps by its own parameters even when its lengths are literals
    or unitless names; each schedule a factory may return, one per config choice) handed to
    Lightning without `"interval": "step"`; and the reverse, a schedule sized in epochs with
    `"interval": "step"`, including a per-step schedule whose total is an epoch count
    (`num_training_steps=self.trainer.max_epochs`, not multiplied by a per-epoch count).
    Modules with manual optimization (`self.automatic_optimization = False`) are skipped:
    Lightning steps nothing there, and so are constant schedules (`get_scheduler("constant",
    ...)`, whose factory reads none of the lengths it is handed): any interval keeps their lr.

    ## Why is this bad?
    Lightning's default interval is `"epoch"`: it calls `scheduler.step()` once per epoch.
    A warm-up over 1,000 steps then takes 1,000 epochs, a OneCycleLR never leaves its warm-up,
    and with `max_epochs=1` a warm-up starting at 0 never leaves 0. The other way round, a
    linear decay over `max_epochs` optimizer steps reaches 0 after a handful of batches and
    stays there. Nothing fails; the model just trains with the wrong learning rate.

    ## Example
    ```python
    import lightning as L
    import torch


    class Classifier(L.LightningModule):
        def configure_optimizers(self):
            optimizer = torch.optim.AdamW(self.parameters(), lr=1e-3)
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=1e-2, total_steps=self.trainer.estimated_stepping_batches)
            return {"optimizer": optimizer, "lr_scheduler": scheduler}
    ```

    ## Use instead
    ```python
    import lightning as L
    import torch


    class Classifier(L.LightningModule):
        def configure_optimizers(self):
            optimizer = torch.optim.AdamW(self.parameters(), lr=1e-3)
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=1e-2, total_steps=self.trainer.estimated_stepping_batches)
            return {"optimizer": optimizer,
                    "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
    ```
    """
    reported = set()
    for entry, sched in lightning_choices(model):
        interval = entry.interval
        if id(entry) in reported:
            continue  # one finding per handed-over scheduler, whichever choice it is
        if interval is not None and interval.string is None:
            continue  # computed: either may be meant
        stepped = interval.string if interval is not None else "epoch"
        why = per_step(model, sched) if stepped == "epoch" else None
        if why is not None:
            said = "the default interval" if interval is None else '`"interval": "epoch"`'
            if entry.in_config:
                fix = 'set `"interval": "step"` in its config dict'
            elif entry.stray_interval:
                fix = (
                    'the `"interval"` beside `"optimizer"` is ignored (Lightning only warns '
                    'of an unsupported key); move it into `{"scheduler": ..., "interval": '
                    '"step"}`'
                )
            else:
                fix = 'hand it over as `{"scheduler": ..., "interval": "step"}`'
            reported.add(id(entry))
            yield Report(
                entry.value.node,
                f"`{clip(sched.cls, 40)}` counts optimizer steps, but Lightning steps "
                f"it once per epoch",
                help=f"{_reason(why)}, and Lightning steps it once per epoch ({said}), "
                f"so the schedule crawls; {fix}",
            )
        elif stepped == "step":
            why = per_epoch(model, sched)
            if why is not None and (sched.cls in _PER_ITERATION or sched.origin == "transformers"):
                # A per-step schedule (a warm-up in steps) whose total is an epoch count.
                reported.add(id(entry))
                yield Report(
                    entry.value.node,
                    f'`{clip(sched.cls, 40)}` is sized by an epoch count, but `"interval": '
                    f'"step"` steps it every optimizer step',
                    help=f"It is {why}, so it ends after that many optimizer steps and "
                    f"holds its final lr (0 for a linear or cosine decay) for the rest of "
                    f"training; size it in optimizer steps "
                    f"(`self.trainer.estimated_stepping_batches`)",
                )
            elif why is not None:
                reported.add(id(entry))
                yield Report(
                    entry.value.node,
                    f'`{clip(sched.cls, 40)}` counts epochs, but `"interval": '
                    f'"step"` steps it every optimizer step',
                    help=f"It is {why}, so it runs through its whole schedule within "
                    f'the first epoch(s); drop `"interval": "step"` '
                    f"(Lightning's default steps once per epoch) or size it in "
                    f"optimizer steps (`self.trainer.estimated_stepping_batches`)",
                )
