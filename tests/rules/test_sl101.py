"""SL101 across modules: where the help says the groups were built."""

from pathlib import Path

from _snippets import lines

from schedlint.check.engine import check_source

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "SL101"


def test_an_optimizer_built_in_an_imported_module_is_placed_in_that_module():
    # "(line 6)" alone pointed into finetune.py, where line 6 is an import
    result = check_source(
        str(FIXTURES / "bad_factory_handed_on" / "finetune.py"), None, frozenset({"SL101"})
    )
    (finding,) = result.findings
    assert "(line 6 of optim_factory.py)" in finding.help


def test_an_optimizer_built_in_the_file_is_placed_by_line_only():
    result = check_source(str(FIXTURES / "bad_optimizer_factory.py"), None, frozenset({"SL101"}))
    assert [f.help.split("(")[1].split(")")[0] for f in result.findings] == ["line 10", "line 16"]


_SUBCLASS_RESETS_TO_FLOOR = """
    import torch
    from torch.optim.lr_scheduler import LRScheduler

    class Restarts(LRScheduler):
        def __init__(self, optimizer, floor, last_epoch=-1):
            self.floor = floor
            super().__init__(optimizer=optimizer, last_epoch=last_epoch)
            self.reset()

        def reset(self):
            for g in self.optimizer.param_groups:
                g["lr"] = self.floor

        def get_lr(self):
            return [base * 0.9 ** self.last_epoch for base in self.base_lrs]

    def build(model):
        optimizer = torch.optim.SGD(OPTIMIZER_GROUPS, lr=0.1)
        return optimizer, Restarts(optimizer, floor=1e-5)
"""


def test_scalar_write_in_a_scheduler_subclass_reaches_the_optimizer_torch_stores():
    # torch's LRScheduler.__init__ stores `self.optimizer`; the subclass's helper writes
    # through it, so the groups the caller built are the ones erased.
    groups = '[{"params": model.a.parameters()}, {"params": model.b.parameters(), "lr": 0.01}]'
    source = _SUBCLASS_RESETS_TO_FLOOR.replace("OPTIMIZER_GROUPS", groups)
    assert lines(source, "SL101") == [13]


def test_scalar_write_in_a_scheduler_subclass_is_silent_for_one_group():
    # The same write is the usual idiom on a single-group optimizer (fairseq's set_lr,
    # Noam-style classes): flagged only when a caller hands it groups with distinct lrs.
    source = _SUBCLASS_RESETS_TO_FLOOR.replace("OPTIMIZER_GROUPS", "model.parameters()")
    assert lines(source, "SL101") == []
