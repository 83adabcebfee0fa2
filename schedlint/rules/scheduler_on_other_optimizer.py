import re

from schedlint.rules.base import Report, clip, rule

# Words that say "optimizer" or "scheduler" and nothing about which network it serves.
_GENERIC = frozenset(
    {"opt", "optim", "optimizer", "optimiser", "sched", "scheduler", "lr", "self", "cls"}
)
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _role(target: str | None) -> tuple:
    """What a variable names beyond being an optimizer or a scheduler: ``opt_d`` and
    ``scheduler_D`` -> ("d",), ``self.optimizer_disc`` -> ("disc",), ``optimizer`` -> ()."""
    if not target:
        return ()
    last = target.rpartition(".")[2]
    return tuple(w.lower() for w in _WORD.findall(last) if w.lower() not in _GENERIC)


def _same_place(a, b) -> bool:
    """Two scopes of one function, or methods of one class (their attributes)."""
    return a is b or (a.cls is not None and a.cls is b.cls)


def _optimizer_node(sched):
    at = sched.args.get("optimizer")
    return at.node if at is not None else sched.node


@rule("SL213", "scheduler-on-other-optimizer", "error")
def scheduler_on_other_optimizer(model):
    """A scheduler named for one optimizer is built on another, leaving that one unscheduled.

    ## What it does
    Flags a scheduler whose name says which optimizer it serves (`sched_d`, `scheduler_D`,
    `self.lr_scheduler_disc`) but that is built on another optimizer of the same function or
    class (`StepLR(opt_g, ...)`), when the optimizer its name points to (`opt_d`) has no
    scheduler at all. Names are compared on what they say beyond "optimizer" and
    "scheduler" (`d`, `disc`, `G`); a scheduler whose name says nothing more
    (`warmup_scheduler` on the only optimizer) is never flagged. A factory of another module
    that builds one scheduler per optimizer it is given counts as building each on the
    optimizer the call hands it (`self.sched_g, self.sched_d = build_schedulers(self.opt_g,
    self.opt_g, cfg)` is flagged at the call).

    ## Why is this bad?
    A copy-pasted line in a GAN or a multi-model trainer: the generator's optimizer gets
    two schedulers and the discriminator's none. Both StepLRs decay the generator's lr at
    each milestone (twice the decay), and the discriminator trains at its first lr for the
    whole run. Nothing fails and the two schedulers' `get_last_lr()` look plausible in logs.

    ## Example
    ```python
    import torch
    from torch.optim.lr_scheduler import StepLR

    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    sched_g = StepLR(opt_g, step_size=30, gamma=0.5)
    sched_d = StepLR(opt_g, step_size=30, gamma=0.5)
    ```

    ## Use instead
    ```python
    import torch
    from torch.optim.lr_scheduler import StepLR

    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    sched_g = StepLR(opt_g, step_size=30, gamma=0.5)
    sched_d = StepLR(opt_d, step_size=30, gamma=0.5)
    ```
    """
    # optimizers are known by the name their code gives them, or, for those a factory of
    # another module builds, by the name a call here binds them to (``self.opt_d``)
    from_factories = model.optimizers_from_factories()

    def name_of(opt, scope):
        here = (t for s, t, o in from_factories if o is opt and _same_place(s, scope))
        return next(here, opt.target)

    # (name, scope, node to report, optimizer, its text, the scheduler): built here, or by a
    # factory of another module that a call here hands an optimizer
    named = [
        (s.target, s.scope, _optimizer_node(s), s.optimizer, s.optimizer_src, s)
        for s in model.schedulers
        if s.optimizer is not None and s.parent is None
    ]
    named += [
        (text, scope, call, opt, name_of(opt, scope), sched)
        for scope, text, call, sched, opt in model.schedulers_from_factories()
    ]
    scheduled = {id(o) for s in model.schedulers for o in (s.optimizer, *s.optimizers) if o}
    scheduled |= {id(n[3]) for n in named}
    for target, scope, at, bound, bound_src, sched in named:
        want = _role(target)
        if not want or want == _role(name_of(bound, scope)):
            continue
        candidates = [
            (o, o.target)
            for o in model.optimizers
            if o is not bound and _role(o.target) == want and _same_place(o.scope, scope)
        ] + [
            (o, text)
            for s, text, o in from_factories
            if o is not bound and _role(text) == want and _same_place(s, scope)
        ]
        if len({id(o) for o, _ in candidates}) != 1 or id(candidates[0][0]) in scheduled:
            continue
        other, other_name = candidates[0]
        twice = any(n[5] is not sched and n[3] is bound for n in named)
        also = f", while `{clip(bound_src, 30)}` gets two schedules" if twice else ""
        yield Report(
            at,
            f"`{clip(target, 30)}` is built on `{clip(bound_src, 30)}`, "
            f"not on `{clip(other_name, 30)}`",
            help=f"`{clip(other_name, 30)}` ({model.where(other.node)}) has no scheduler, "
            f"so it keeps its first lr for the whole run{also}; build "
            f"`{clip(target, 30)}` on `{clip(other_name, 30)}`",
        )
