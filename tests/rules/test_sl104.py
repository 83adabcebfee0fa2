"""SL104: get_lr that repeats one value for every group."""

import pytest
from _snippets import lines

TEMPLATE = """\
import math
from torch.optim.lr_scheduler import LRScheduler
class S(LRScheduler):
    def get_lr(self):
        {body}
"""


@pytest.mark.parametrize(
    "body",
    [
        "return [self.lr for _ in self.optimizer.param_groups]",
        "return [self.lr * 0.5 for i in range(len(self.optimizer.param_groups))]",
        "return [self.peak for base in self.base_lrs]",
        "return [self.peak] * len(self.optimizer.param_groups)",
        "return list(self.peak * 2 for g in self.optimizer.param_groups)",
        # one group's base, by index, for all (issue 13: a target lr from param_groups[0]
        # applied to every group)
        "return [self.base_lrs[0] for _ in self.optimizer.param_groups]",
        "return [self.optimizer.param_groups[0]['initial_lr'] * 0.5 for g in self.base_lrs]",
    ],
)
def test_uniform_values_are_flagged(body):
    assert lines(TEMPLATE.format(body=body), "SL104") == [5]


@pytest.mark.parametrize(
    "body",
    [
        "return [b * self.f for b in self.base_lrs]",
        "return [g['lr'] * self.gamma for g in self.optimizer.param_groups]",
        "return [self.lrs[i] for i in range(len(self.optimizer.param_groups))]",
        "return [0.0 for _ in self.optimizer.param_groups]",
        "return [next(self.values) for _ in self.optimizer.param_groups]",
        "return [self.lr for _ in range(self.n)]",  # not visibly over the groups
        "return self.compute()",
    ],
)
def test_per_group_or_unknown_values_are_silent(body):
    assert lines(TEMPLATE.format(body=body), "SL104") == []


def test_plain_class_is_not_a_scheduler():
    src = TEMPLATE.format(body="return [self.lr for _ in self.optimizer.param_groups]")
    assert lines(src.replace("class S(LRScheduler)", "class S(object)"), "SL104") == []


def test_get_lr_sized_by_an_append_loop_or_a_helper_method():
    source = """\
    from torch.optim.lr_scheduler import LRScheduler
    class A(LRScheduler):
        def get_lr(self):
            lrs = []
            for e in range(self.warmup_epochs):
                lrs.append(self.peak * (e + 1) / self.warmup_epochs)
            return lrs
    class B(LRScheduler):
        def _ramp(self):
            return [self.peak * (s + 1) / self.warmup_steps for s in range(self.warmup_steps)]
        def get_lr(self):
            return self._ramp()
    class C(LRScheduler):
        def get_lr(self):
            lrs = []
            for base in self.base_lrs:
                lrs.append(base * 0.5)
            return lrs
    class D(LRScheduler):
        def _per_group(self):
            return [self.base_lrs[i] for i in range(len(self.optimizer.param_groups))]
        def get_lr(self):
            return self._per_group()
    """
    assert lines(source, "SL104") == [7, 12]
