"""The model's call-site queries (model.call_sites, model.arguments, model.assignments) that
the SL203/SL207/SL308 shapes read: who calls a function, from which loop, with what."""

import textwrap

import libcst as cst

from schedlint.model.builder import build_model

SOURCE = """
    import copy
    import torch

    def train_one_epoch(model, loader, optimizer, scheduler):
        for x, y in loader:
            optimizer.step()
        scheduler.step()

    def main(args, model, train_loader, val_loader):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
        active = train_loader
        if args.resume:
            active = skip_first_batches(train_loader, args.step)
        for epoch in range(args.epochs):
            train_one_epoch(model, active, optimizer, scheduler)
        train_one_epoch(model, loader=val_loader, optimizer=optimizer, scheduler=scheduler)

    def spread(model, *rest):
        train_one_epoch(model, *rest)
"""


def _model():
    source = textwrap.dedent(SOURCE)
    return build_model("snippet.py", source, cst.parse_module(source))


def _scope(model, name):
    return next(s for s in model.scopes if s.name == name and s.kind == "function")


def test_call_sites_give_the_calling_loop():
    model = _model()
    sites = model.call_sites(_scope(model, "train_one_epoch"))
    loops = {(caller.name, loop.iter.src if loop else None) for caller, _, loop in sites}
    assert ("main", "range(args.epochs)") in loops and ("main", None) in loops


def test_arguments_by_position_and_keyword_and_unknown_with_star_args():
    model = _model()
    fn = _scope(model, "train_one_epoch")
    # `spread` hands its arguments over with *rest: which one lands in `loader` is unseen
    assert model.arguments(fn, "loader") is None
    assert model.arguments(_scope(model, "main"), "args") == []


def test_assignments_hold_both_arms():
    model = _model()
    bound = [model.value(node).src for node in model.assignments(_scope(model, "main"), "active")]
    assert bound == ["train_loader", "skip_first_batches(train_loader, args.step)"]
