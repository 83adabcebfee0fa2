from schedlint.model.lr_expressions import looks_like_lr
from schedlint.model.lr_lambdas import (
    LrCarrier,
    helper_group_lr_numbers,
    helper_group_lr_texts,
    lr_lambda_functions,
    product_texts,
)
from schedlint.model.usage import params_from_group_builder
from schedlint.rules.base import Report, clip, rule

_CLASSES = ("LambdaLR", "MultiplicativeLR")


def _lr_texts(model, optimizer) -> set:
    """Dotted LR expressions (not numbers) the optimizer's group lrs are built from."""
    # a helper's groups name its own variables, which need not be the lambda's; groups a
    # builder returns (``classifier.get_parameters()``) may each hold their own lr (or lr
    # multiplier), which the default lr then does not reach
    default = [] if params_from_group_builder(model, optimizer) else [optimizer.default_lr]
    values = default + [g.lr for g in optimizer.groups or () if g.scope in (None, optimizer.scope)]
    texts = set()
    for v in values:
        if v is None:
            continue
        texts |= {text for text in product_texts(v) if looks_like_lr(text)}
    return texts | {t for t in helper_group_lr_texts(model, optimizer) if looks_like_lr(t)}


def _holds_multipliers(model, optimizer) -> bool:
    """Groups of lr factors (1.0 and 0.1), or one group at a default lr of 1.0 or more."""
    if model.group_lr_style(optimizer) == "multiplier":
        return True
    helper = helper_group_lr_numbers(model, optimizer)
    if helper and max(helper) >= 1.0:
        return True  # a builder left at its default base (``get_parameters()``): factors
    lr = optimizer.default_lr
    groups = optimizer.groups
    return groups is not None and len(groups) == 1 and lr is not None and (lr.number or 0) >= 1.0


def _lambdas_on_multipliers(model) -> set:
    """The return nodes of the lr_lambdas that some scheduler applies to groups of lr
    factors: such a function supplies the absolute lr on purpose, also where it drives an
    optimizer whose groups look like lrs (``lr_decay`` shared by optimizers built with
    ``lr=1.`` and one with groups of 0.1, which are factors too)."""
    found = set()
    for sched in model.schedulers:
        value = sched.args.get("lr_lambda")
        if sched.cls not in _CLASSES or sched.optimizer is None or value is None:
            continue
        if _holds_multipliers(model, sched.optimizer):
            for lam in lr_lambda_functions(model, sched, value):
                found.update(id(r) for r in lam.returns)
    return found


def _absolute_numbers(optimizer) -> list | None:
    """The group lrs when each is a number literal in (0, 0.1]: lrs, not multipliers of one
    (1.0 and 0.1). None when any is not, or the groups are unknown."""
    lrs = optimizer.group_lrs()
    if not lrs or len(lrs) < 2 or any(v is None or v.number is None for v in lrs):
        return None
    numbers = [v.number for v in lrs]
    return numbers if all(0 < n <= 0.1 for n in numbers) else None


@rule("SL106", "lambda-returns-absolute-lr", "error")
def lambda_returns_absolute_lr(model):
    """The function given to LambdaLR/MultiplicativeLR returns an LR, not a factor.

    ## What it does
    Flags `LambdaLR`/`MultiplicativeLR` whose `lr_lambda` returns a value scaled by the same
    LR expression the optimizer's groups were built with, e.g. `LambdaLR(opt, lambda e:
    args.lr * 0.95 ** e)` on `SGD(..., lr=args.lr)`. The function may be a closure a helper
    builds (`make_warmup_cosine(args.lr, warmup, total)`, also imported), a
    `functools.partial(warmup_lr, base_lr=cfg.lr, warmup=500)`, a method read through an
    instance (`self.get_lr` returning `self.lr * ...`, `schedule.lr_at` of
    `WarmupCosine(args.lr, ...)` returning `self.base_lr * ...`), or a lambda an instance
    keeps (`self.lr_lambda`, `schedule.fn`). A lambda's free names are read where it is
    written (`base_lr = hparams["learning_rate"]` then `lambda it: base_lr * ...`), config
    entries count by key (`cfg["lr"]`), and a scheduler factory no code of its module calls
    (`build_scheduler(hparams, optimizer)`) is judged on the optimizer its callers in other
    modules hand it (`build_optimizer(hparams, model)`). When every group's lr is a number
    of at most 0.1 (1e-4 and 1e-3), any lr (`args.lr`, `base_lr`) multiplied into the
    returned value is flagged. Not flagged when the groups hold lr multipliers rather than
    lrs (1.0 and 0.1, a 10x head, or `"lr": lr_mult`), wherever the groups are built (a
    helper, a loop): the lambda then supplies the absolute lr on purpose. Likewise when the
    same function also drives such groups (or an optimizer built at `lr=1.`), and when the
    groups come from a builder the file cannot read (`classifier.get_parameters()`, a
    library's): each may set its own lr, which the optimizer's default lr then does not
    reach. An in-tree builder's groups are read: left at its default base
    (`get_parameters(self, base_lr=1.0)` returning `0.1 * base_lr`) they hold multipliers;
    handed the lr (`seg.get_param_groups(base_lr=cfg.lr)`) they hold lrs, spelled `cfg.lr`.

    ## Why is this bad?
    The scheduler treats the returned value as a *factor*: LambdaLR sets each group's LR to
    `initial_lr * lr_lambda(epoch)`, MultiplicativeLR multiplies the current LR by it every
    step. Returning an absolute LR therefore gives `args.lr ** 2 * factor` (1e-3 becomes 1e-6),
    and with MultiplicativeLR the LR shrinks by `args.lr` at every step. Training runs, just
    with an LR orders of magnitude too small.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: args.lr * min(1.0, step / args.warmup))
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, step / args.warmup))
    ```
    """
    on_multipliers = None
    for sched in model.schedulers:
        opt = sched.optimizer
        value = sched.args.get("lr_lambda")
        if sched.cls not in _CLASSES or sched.origin != "torch" or opt is None or value is None:
            continue
        texts = _lr_texts(model, opt)
        numbers = _absolute_numbers(opt)
        if not (texts or numbers) or _holds_multipliers(model, opt):
            continue  # groups of lr factors: the lambda supplies the absolute lr on purpose
        if any(w.optimizer is opt and opt.order < w.order < sched.order for w in model.lr_writes):
            continue  # the group lrs were rewritten (to multipliers?) before the scheduler
        for lam in lr_lambda_functions(model, sched, value):
            if on_multipliers is None:
                on_multipliers = _lambdas_on_multipliers(model)
            if any(id(r) in on_multipliers for r in lam.returns):
                continue
            carrier = LrCarrier(texts, lam, any_lr=numbers is not None)
            hit = carrier.first(lam.returns)
            if hit is None:
                continue
            if hit in texts:
                built = f"`{hit}` is the lr `{sched.optimizer_src}` was built with"
            else:
                shown = ", ".join(dict.fromkeys(f"{n:g}" for n in numbers))
                built = f"`{sched.optimizer_src}`'s groups already hold lrs ({shown})"
            if sched.cls == "LambdaLR":
                effect = (
                    f"LambdaLR sets each group's lr to initial_lr * lr_lambda(epoch), so "
                    f"the effective lr is initial_lr * {hit} * factor"
                )
            else:
                effect = (
                    f"MultiplicativeLR multiplies each group's current lr by the returned "
                    f"value every step, so the lr shrinks by a factor of {hit} per step"
                )
            yield Report(
                value.node,
                f"{clip(lam.label, 30)} given to {sched.cls} returns the lr "
                f"`{clip(hit, 20)}` times a factor, not a pure factor",
                help=f"{built} ({model.where(opt.node)}): {effect}; return the pure factor "
                f"instead (drop `{carrier.written or hit} *`)",
            )
            break
