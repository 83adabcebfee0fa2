import re

from schedlint.model.facts import Optimizer
from schedlint.model.usage import names_of
from schedlint.rules.base import Report, clip, rule

_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_SCHEDULER_WORDS = frozenset({"sched", "scheduler", "schedular", "schedule"})
_OPTIMIZER_WORDS = frozenset({"opt", "optim", "optimizer", "optimiser", "optimizers"})


def _reads_as_scheduler(receiver: str) -> bool:
    """``scheduler``, ``lr_scheduler``, ``sched_g``, ``self.scheduler_D``: the last name of
    the receiver has a word for a scheduler and none for an optimizer."""
    words = {w.lower() for w in _CAMEL.findall(receiver.rpartition(".")[2])}
    return bool(words & _SCHEDULER_WORDS) and not words & _OPTIMIZER_WORDS


def _role(text: str | None) -> frozenset:
    """What a name says beyond optimizer or scheduler: ``sched_g`` and ``opt_g`` -> {"g"}."""
    words = {w.lower() for w in _CAMEL.findall((text or "").rpartition(".")[2])}
    return frozenset(words - _SCHEDULER_WORDS - _OPTIMIZER_WORDS - {"lr", "self"})


def _same_place(a, b) -> bool:
    """Two facts of one function, or of methods of one class."""
    return a.scope is b.scope or (a.scope.cls is not None and a.scope.cls is b.scope.cls)


@rule("SL215", "scheduler-name-holds-optimizer", "error")
def scheduler_name_holds_optimizer(model):
    """A variable named as a scheduler holds an optimizer, and its `.step()` updates the weights.

    ## What it does
    Flags `sched.step()` when `sched` reads as a scheduler (`scheduler`, `lr_scheduler`,
    `sched_g`, `self.scheduler_D`) but certainly holds an optimizer: built right there
    (`self.sched_g = torch.optim.Adam(...)`) or returned by a factory
    (`scheduler = build_optimizer(cfg, model)`), while another optimizer of the same function
    or class is stepped as the real one. Names that also say "optimizer" (`opt_sched`),
    receivers that may hold anything else, and an optimizer that is merely named oddly but
    is the only one, zeroed and stepped as such, are left alone.

    ## Why is this bad?
    A copy-paste slip (`torch.optim.Adam` where `torch.optim.lr_scheduler.StepLR` was
    meant): every `sched.step()` is one more optimizer update of the same parameters with
    gradients already used (and with a second, independent Adam state), and there is no lr
    schedule at all. Nothing fails; the model trains with a doubled, unscheduled update.

    ## Example
    ```python
    import torch

    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    sched_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    for epoch in range(epochs):
        for z in loader:
            opt_g.zero_grad()
            generator_loss(generator(z)).backward()
            opt_g.step()
        sched_g.step()
    ```

    ## Use instead
    ```python
    import torch

    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    sched_g = torch.optim.lr_scheduler.StepLR(opt_g, step_size=30, gamma=0.5)
    for epoch in range(epochs):
        for z in loader:
            opt_g.zero_grad()
            generator_loss(generator(z)).backward()
            opt_g.step()
        sched_g.step()
    ```
    """
    names = names_of(model)
    done = set()
    for call in model.calls:
        if call.method != "step" or not _reads_as_scheduler(call.receiver):
            continue
        held = names.holds(call.scope, call.receiver)
        if not held or not all(isinstance(h, Optimizer) for h in held):
            continue
        place = (id(call.scope.cls or call.scope), call.receiver)
        if place in done:
            continue
        if any(
            c.method == "zero_grad" and c.receiver == call.receiver and _same_place(c, call)
            for c in model.calls
        ):
            continue  # zeroed and stepped: it is used as the optimizer it is
        # the optimizer the code steps as such: next to it (a factory's may be the same
        # fact), else in another function of the file (a ``train_one_epoch`` helper)
        real = _stepped_optimizers(model, call, nearby=True)
        real = real or _stepped_optimizers(model, call, nearby=False)
        if not real:
            continue
        done.add(place)
        opt = held[0]
        role = _role(call.receiver)
        real.sort(key=lambda r: _role(r) != role)
        yield Report(
            call.node,
            f"`{clip(call.receiver, 30)}` holds an optimizer (`{opt.cls}`), so this "
            f"`step()` is an extra optimizer step",
            help=f"`{clip(call.receiver, 30)}` is bound to the `{opt.cls}` built on "
            f"{model.where(opt.node)}, not to a scheduler: each call updates the weights "
            f"again and no lr schedule runs; build a scheduler on "
            f"`{clip(real[0], 30)}` instead (e.g. "
            f"`torch.optim.lr_scheduler.StepLR({clip(real[0], 30)}, step_size=30)`)",
        )


def _stepped_optimizers(model, call, nearby) -> list:
    """Receivers other than ``call``'s stepped as optimizers (``opt.step()``,
    ``scaler.step(opt)``) in ``call``'s function or class (``nearby``), or in other
    functions of the file."""
    real = []
    for c in model.calls:
        if c.method != "step" or _same_place(c, call) != nearby:
            continue
        if c.optimizer_arg is not None and c.args:  # scaler.step(optimizer)
            stepped = c.args[0].ref
        elif c.targets and all(isinstance(t, Optimizer) for t in c.targets):
            stepped = c.receiver
        else:
            continue
        if stepped and stepped != call.receiver and not _reads_as_scheduler(stepped):
            real.append(stepped)
    return real
