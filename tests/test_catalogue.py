"""The checker's catalogue (schedlint/model/catalogue.py, written without importing torch) matches
the torch installed for the tests."""

from __future__ import annotations

import inspect

import pytest

from schedlint.model import catalogue

torch_optim = pytest.importorskip("torch.optim")
lr_scheduler = pytest.importorskip("torch.optim.lr_scheduler")
swa_utils = pytest.importorskip("torch.optim.swa_utils")


def _scheduler_classes() -> dict:
    found = {}
    for module in (lr_scheduler, swa_utils):
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and value.__module__ == module.__name__
                and issubclass(value, (lr_scheduler.LRScheduler, lr_scheduler.ReduceLROnPlateau))
                and value is not lr_scheduler.LRScheduler
                and not name.startswith("_")
            ):
                found[name] = value
    return found


def test_every_torch_scheduler_is_catalogued():
    assert set(catalogue.SCHEDULER_SIGNATURES) == set(_scheduler_classes())


@pytest.mark.parametrize("name", sorted(catalogue.SCHEDULER_SIGNATURES))
def test_scheduler_signature_matches_torch(name):
    # Positional arguments are named through this table, so its order must be torch's.
    parameters = tuple(inspect.signature(_scheduler_classes()[name]).parameters)
    assert (
        parameters[: len(catalogue.SCHEDULER_SIGNATURES[name])]
        == catalogue.SCHEDULER_SIGNATURES[name]
    )


@pytest.mark.parametrize("name", sorted(catalogue.TORCH_OPTIMIZERS))
def test_optimizer_signature_matches_torch(name):
    parameters = tuple(inspect.signature(getattr(torch_optim, name)).parameters)
    assert parameters[: len(catalogue.OPTIMIZER_SIGNATURE)] == catalogue.OPTIMIZER_SIGNATURE
