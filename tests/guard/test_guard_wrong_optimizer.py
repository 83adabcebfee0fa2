"""SLG117: the copy-pasted GAN line, ``sched_D = StepLR(opt_G, ...)``: two schedulers of one class
with the same arguments drive one optimizer (it decays twice per epoch) while another optimizer,
stepped as often, has none. Torch's legitimate combinations (different schedulers on one
optimizer, one scheduler per optimizer, a constant-lr optimizer stepped less often) are silent."""

import io
import textwrap

import pytest

torch = pytest.importorskip("torch")

import schedlint  # noqa: E402
from schedlint.guard.runner import run_script  # noqa: E402

HEAD = """
import torch
from torch import nn
from torch.optim import lr_scheduler as S


def make_batches(n):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(8, 4, generator=g) for _ in range(n)]


class GAN:
    def __init__(self):
        self.G = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4))
        self.D = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))

    def d_loss(self, real):
        fake = self.G(torch.randn(real.shape[0], 2)).detach()
        bce = nn.functional.binary_cross_entropy_with_logits
        return bce(self.D(real), torch.ones(real.shape[0], 1)) + bce(
            self.D(fake), torch.zeros(real.shape[0], 1)
        )

    def g_loss(self, n):
        fake = self.G(torch.randn(n, 2))
        return nn.functional.binary_cross_entropy_with_logits(self.D(fake), torch.ones(n, 1))


def fit(gan, opt_G, opt_D, schedulers, loader, epochs, d_steps=1):
    for epoch in range(epochs):
        for real in loader:
            for _ in range(d_steps):
                opt_D.zero_grad()
                gan.d_loss(real).backward()
                opt_D.step()
            opt_G.zero_grad()
            gan.g_loss(real.shape[0]).backward()
            opt_G.step()
        for sched in schedulers:
            sched.step()


def main():
    torch.manual_seed(0)
    gan = GAN()
    opt_G = torch.optim.Adam(gan.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(gan.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
"""


def _run(tmp_path, body: str) -> str:
    script = tmp_path / "train_gan.py"
    script.write_text(HEAD + textwrap.indent(textwrap.dedent(body), "    ") + "\n\nmain()\n")
    out = io.StringIO()
    status = run_script(str(script), [], on_violation="warn", out=out)
    assert status == 0, out.getvalue()
    return out.getvalue()


def test_copy_pasted_scheduler_on_the_generators_optimizer_is_reported(tmp_path):
    out = _run(
        tmp_path,
        """
        sched_G = S.StepLR(opt_G, step_size=2, gamma=0.5)
        sched_D = S.StepLR(opt_G, step_size=2, gamma=0.5)
        fit(gan, opt_G, opt_D, [sched_G, sched_D], make_batches(5), epochs=6)
        """,
    )
    assert "SLG117 x1" in out, out
    assert "2 StepLR with the same arguments (built at " in out, out
    assert "train_gan.py:49 and " in out and "train_gan.py:50) all step Adam built at " in out, out
    assert "train_gan.py:46, so its lr follows the schedule 2 times over" in out, out
    assert "train_gan.py:47, stepped as often (30 optimizer steps), has no scheduler" in out, out


def test_copy_pasted_scheduler_under_explicit_guards_is_reported():
    from torch.optim import lr_scheduler as S

    torch.manual_seed(0)
    g_model, d_model = torch.nn.Linear(2, 4), torch.nn.Linear(4, 1)
    opt_G = torch.optim.SGD(g_model.parameters(), lr=0.1)
    opt_D = torch.optim.SGD(d_model.parameters(), lr=0.1)
    with (
        schedlint.guard(opt_G, on_violation="log") as guard_G,
        schedlint.guard(opt_D, on_violation="log"),
    ):
        sched_G = S.ExponentialLR(opt_G, gamma=0.9)
        sched_D = S.ExponentialLR(opt_G, gamma=0.9)
        for _epoch in range(3):
            for _ in range(4):
                z = torch.randn(8, 2)
                opt_D.zero_grad()
                d_model(g_model(z).detach()).mean().backward()
                opt_D.step()
                opt_G.zero_grad()
                (-d_model(g_model(z)).mean()).backward()
                opt_G.step()
            sched_G.step()
            sched_D.step()
        report = guard_G.close()
    codes = [v.code for v in report.pending] + [c for c, _g in report.counts]
    assert codes == ["SLG117"], report


@pytest.mark.parametrize(
    "body",
    [
        # one scheduler per optimizer
        """
        sched_G = S.StepLR(opt_G, step_size=2, gamma=0.5)
        sched_D = S.StepLR(opt_D, step_size=2, gamma=0.5)
        fit(gan, opt_G, opt_D, [sched_G, sched_D], make_batches(5), epochs=6)
        """,
        # two different schedulers chained on one optimizer, a constant lr for the other
        """
        warm = S.LinearLR(opt_G, start_factor=0.5, total_iters=2)
        decay = S.ExponentialLR(opt_G, gamma=0.9)
        fit(gan, opt_G, opt_D, [warm, decay], make_batches(5), epochs=6)
        """,
        # two StepLR with different arguments on one optimizer (two decay stages)
        """
        fast = S.StepLR(opt_G, step_size=2, gamma=0.5)
        slow = S.StepLR(opt_G, step_size=3, gamma=0.1)
        fit(gan, opt_G, opt_D, [fast, slow], make_batches(5), epochs=6)
        """,
        # the critic steps five times per generator step (WGAN): not stepped as often
        """
        sched_a = S.StepLR(opt_G, step_size=2, gamma=0.5)
        sched_b = S.StepLR(opt_G, step_size=2, gamma=0.5)
        fit(gan, opt_G, opt_D, [sched_a, sched_b], make_batches(5), epochs=6, d_steps=5)
        """,
    ],
    ids=["one-each", "chained-different", "same-class-other-args", "critic-steps-more"],
)
def test_legitimate_combinations_are_silent(tmp_path, body):
    out = _run(tmp_path, body)
    assert "SLG117" not in out, out
