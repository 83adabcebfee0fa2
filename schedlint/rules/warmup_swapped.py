import re

from schedlint.model import catalogue
from schedlint.model.usage import value_name
from schedlint.rules.base import Report, clip, rule

# Names of a run's whole length in optimizer steps, and of a warm-up length.
_TOTAL = re.compile(
    r"(num_)?(total|training|train|max|max_train)(_optimization)?_(steps|iters|iterations|updates)"
    r"|t_total|total|num_training_steps|max_steps"
)
_WARMUP = re.compile(r"(num_)?warm_?up(_steps|_iters|_iterations|_updates)?")


def _count(number: float) -> str:
    return str(int(number)) if number == int(number) else f"{number:g}"


def _reads_as(name: str | None, pattern) -> bool:
    return bool(name) and pattern.fullmatch(name.lower()) is not None


def _takes_both(sched) -> bool:
    """A transformers (or diffusers) factory whose signature has the warm-up and the run's
    length: the ``*_with_warmup`` schedules and ``get_scheduler``."""
    signature = catalogue.TRANSFORMERS_FACTORIES.get(sched.cls, ())
    return sched.cls == "get_scheduler" or (
        "num_warmup_steps" in signature and "num_training_steps" in signature
    )


def _whole_run(value) -> bool:
    """Named like the run's length, or computed as one: an epoch count times a loader's
    length (``args.num_epochs * len(train_loader)``), not a warm-up share of it."""
    if _reads_as(value_name(value.node), _TOTAL):
        return True
    last = [r.rpartition(".")[2].lower() for r in value.names | value.attributes]
    return (
        "*" in value.operators
        and bool(value.lens)
        and any("epoch" in r for r in last)
        and not any("warm" in r or "ratio" in r or "frac" in r for r in last)
    )


def _share_of(total, warmup) -> bool:
    """The training slot computes a warm-up share of what the warm-up slot holds:
    ``int(num_training_steps * args.warmup_ratio)`` there, ``num_training_steps`` before it."""
    reads = total.names | total.attributes
    return (
        value_name(total.node) is None
        and warmup.ref in reads
        and bool(total.operators & {"*", "/"})
        and any("warm" in r.rpartition(".")[2].lower() for r in reads)
    )


@rule("SL310", "warmup-and-total-steps-swapped", "error")
def warmup_and_total_steps_swapped(model):
    """A transformers warm-up schedule given the run's length as its warm-up, and back.

    ## What it does
    Flags `get_linear_schedule_with_warmup(optimizer, a, b)` (and the other
    `get_*_schedule_with_warmup` factories, and `get_scheduler(name, optimizer, a, b)`) when
    the warm-up slot receives, by position, a value named like the whole run
    (`total_steps`, `num_training_steps`, `max_steps`, `t_total`) or computing it (an epoch
    count times a loader's length: `args.epochs * len(train_loader)`) and the training slot
    one named like a warm-up (`warmup_steps`, `args.warmup`, also by keyword) or computing
    a warm-up share of the value in the warm-up slot (`int(total_steps * args.warmup_ratio)`;
    by keyword `num_warmup_steps=t_total, num_training_steps=args.warmup_proportion *
    t_total`); or
    when both are numbers the model knows and the warm-up is not shorter than the run.

    ## Why is this bad?
    The signature is `(optimizer, num_warmup_steps, num_training_steps)`. Swapped, the
    schedule warms up over what was meant as the run's length: the lr climbs for the whole
    training, ends at a fraction of its peak (0.1 of it for 100 steps out of a 1000-step
    warm-up) and never decays. Nothing fails; the loss curve just looks like a slow run.

    ## Example
    ```python
    from transformers import get_linear_schedule_with_warmup

    total_steps = len(train_loader) * epochs
    warmup_steps = int(0.1 * total_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, total_steps, warmup_steps)
    ```

    ## Use instead
    ```python
    from transformers import get_linear_schedule_with_warmup

    total_steps = len(train_loader) * epochs
    warmup_steps = int(0.1 * total_steps)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=warmup_steps, num_training_steps=total_steps
    )
    ```
    """
    for sched in model.schedulers:
        if sched.origin != "transformers" or not _takes_both(sched):
            continue
        warmup = sched.args.get("num_warmup_steps")
        total = sched.args.get("num_training_steps")
        if warmup is None or total is None:
            continue
        by_position = {"num_warmup_steps", "num_training_steps"} <= set(sched.positional)
        named_warmup = _reads_as(value_name(total.node), _WARMUP)
        if _whole_run(warmup) and (named_warmup or by_position and _share_of(total, warmup)):
            yield Report(
                warmup.node,
                f"`{clip(warmup.src, 30)}` is passed as the warm-up and "
                f"`{clip(total.src, 30)}` as the training length",
                help=f"The schedule takes `({', '.join(sched.positional)})`: "
                "swapped, the lr warms up for the whole run and never decays; swap them, "
                "or pass them by keyword"
                if by_position
                else f"{sched.cls} warms up for `num_warmup_steps` out of "
                "`num_training_steps`: swapped, the lr warms up for the whole run and never "
                "decays; swap the two values",
            )
            continue
        if not by_position and _whole_run(warmup) and _share_of(total, warmup):
            yield Report(
                warmup.node,
                f"`{clip(warmup.src, 30)}` is passed as the warm-up and a fraction of it as "
                "the training length",
                help=f"{sched.cls} warms up for `num_warmup_steps` out of "
                "`num_training_steps`: given the whole run as the warm-up, the lr climbs past "
                "the run's end and never decays; swap the two values",
            )
            continue
        steps = model.number(warmup.node, sched.scope)
        length = model.number(total.node, sched.scope)
        if steps is not None and length is not None and 0 < length <= steps:
            yield Report(
                warmup.node,
                f"a warm-up of {_count(steps)} steps is not shorter than the {_count(length)} "
                f"training steps",
                help=f"{sched.cls} warms up for `num_warmup_steps` "
                f"(`{clip(warmup.src, 30)}`) out of `num_training_steps` "
                f"(`{clip(total.src, 30)}`): the lr climbs for the whole run and never "
                "decays; are the two swapped?",
            )
