"""Framework conventions in the model (Lightning's configure_optimizers, Hugging Face, timm)
and messages that depend on the scheduler kind."""

import textwrap

import libcst as cst
import pytest
from _snippets import with_help

from schedlint.model.builder import build_model


def model_of(source: str):
    source = textwrap.dedent(source)
    return build_model("snippet.py", source, cst.parse_module(source))


def test_get_lr_message_depends_on_the_scheduler_kind():
    src = """
        import torch
        from torch.optim.lr_scheduler import LambdaLR, StepLR
        opt = torch.optim.SGD(params, lr=0.1)
        warm = LambdaLR(opt, lambda s: min(1.0, s / 100))
        decay = StepLR(opt, step_size=10)
        print(warm.get_lr(), decay.get_lr())
    """
    # The message says what is wrong; the help says why (and what to read instead).
    (_, closed, closed_help), (_, chainable, chainable_help) = with_help(src, "SL206")
    assert "next" not in closed + closed_help and "in use" in closed_help
    assert "warns on every call" in closed
    assert "next lr" in chainable and "*next*" in chainable_help


@pytest.mark.parametrize(
    "ret, interval, monitor",
    [
        ("[opt], [sched]", None, None),
        ('{"optimizer": opt, "lr_scheduler": sched, "monitor": "val"}', None, "'val'"),
        (
            (
                '{"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}, '
                '"monitor": "val"}'
            ),
            "'step'",
            None,
        ),
        ('[{"optimizer": opt, "lr_scheduler": sched, "monitor": "val"}]', None, None),
        ('([opt], [{"scheduler": sched, "monitor": "m", "interval": "epoch"}])', "'epoch'", "'m'"),
    ],
)
def test_configure_optimizers_return_forms(ret, interval, monitor):
    model = model_of(f"""
        import torch
        class M(LightningModule):
            def configure_optimizers(self):
                opt = torch.optim.SGD(self.parameters(), lr=0.1)
                sched = torch.optim.lr_scheduler.StepLR(opt, 10)
                return {ret}
    """)
    (hook,) = model.lightning
    (entry,) = hook.schedulers
    assert entry.scheduler is model.schedulers[0]
    assert (entry.interval.src if entry.interval else None) == (
        interval.replace("'", '"') if interval else None
    )
    assert (entry.monitor.src if entry.monitor else None) == (
        monitor.replace("'", '"') if monitor else None
    )
    assert not hook.manual


def test_optimizer_only_returns_no_scheduler_and_manual_is_inherited():
    model = model_of("""
        import torch
        class Base(LightningModule):
            def __init__(self):
                self.automatic_optimization = False
        class Child(Base):
            def configure_optimizers(self):
                opt = torch.optim.SGD(self.parameters(), lr=0.1)
                return [opt], [torch.optim.lr_scheduler.StepLR(opt, 10)]
        class Plain(LightningModule):
            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)
    """)
    (hook,) = model.lightning
    assert hook.manual and hook.schedulers[0].scheduler.cls == "StepLR"


@pytest.mark.parametrize(
    "call, cls, origin",
    [
        (
            'get_scheduler("cosine", opt, 10, 100)',
            "get_cosine_schedule_with_warmup",
            "transformers",
        ),
        ('get_scheduler(name="reduce_lr_on_plateau", optimizer=opt)', "ReduceLROnPlateau", "torch"),
        ("get_scheduler(args.name, opt, 10, 100)", "get_scheduler", "transformers"),
        ("get_reduce_on_plateau_schedule(opt)", "ReduceLROnPlateau", "torch"),
        (
            'diffusers.optimization.get_scheduler("linear", opt, None, 10, 100)',
            "get_linear_schedule_with_warmup",
            "transformers",
        ),
        ("timm.scheduler.CosineLRScheduler(opt, t_initial=10)", "CosineLRScheduler", "timm"),
        ("mmengine.optim.CosineAnnealingLR(opt, T_max=10)", "CosineAnnealingLR", "mmengine"),
    ],
)
def test_catalogue_resolves_framework_schedulers(call, cls, origin):
    model = model_of(f"""
        import torch, timm, mmengine, diffusers
        from transformers import get_scheduler, get_reduce_on_plateau_schedule
        opt = torch.optim.SGD(params, lr=0.1)
        sched = {call}
    """)
    (sched,) = model.schedulers
    assert (sched.cls, sched.origin) == (cls, origin)
    assert sched.optimizer is model.optimizers[0]
    if call.startswith("diffusers"):
        assert sched.args["num_training_steps"].src == "100"


def test_timm_create_scheduler_unpacks_the_scheduler():
    model = model_of("""
        import torch
        from timm.scheduler import create_scheduler
        opt = torch.optim.SGD(params, lr=0.1)
        lr_scheduler, num_epochs = create_scheduler(args, opt)
    """)
    (sched,) = model.schedulers
    assert (sched.target, sched.cls, sched.origin) == ("lr_scheduler", "create_scheduler", "timm")
    assert sched.optimizer is model.optimizers[0]


def test_plateau_advice_never_suggests_sequential_lr():
    """torch 2.13's SequentialLR and ChainedScheduler raise ValueError on ReduceLROnPlateau."""
    src = """
        import torch
        from torch.optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau
        def train(model, loader, evaluate, epochs):
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            plateau = ReduceLROnPlateau(opt)
            for epoch in range(epochs):
                for g in opt.param_groups:
                    g["lr"] = 0.05
                opt.step()
                plateau.step(evaluate(model))
        def train2(model, loader, evaluate, epochs):
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            plateau = ReduceLROnPlateau(opt)
            cycle = OneCycleLR(opt, max_lr=0.1, total_steps=epochs)
            for epoch in range(epochs):
                opt.step()
                cycle.step()
                plateau.step(evaluate(model))
    """
    ((_, manual, manual_help),) = with_help(src, "SL201")
    ((_, conflict, conflict_help),) = with_help(src, "SL202")
    for message, help_text in ((manual, manual_help), (conflict, conflict_help)):
        assert "reject" in help_text  # the advice is the help (issue 16)
        assert "combine them with `SequentialLR`" not in message + help_text
        assert "warm-up through `SequentialLR`" not in message + help_text


def test_lightning_hands_configure_optimizers_objects_back_to_the_module():
    m = model_of(
        """
        import lightning as L
        import torch

        class GAN(L.LightningModule):
            def training_step(self, batch, batch_idx):
                g, d = self.optimizers()
                first = self.trainer.optimizers[0]
                sched = self.lr_schedulers()

            def optimizer_zero_grad(self, epoch, batch_idx, opt):
                opt.zero_grad(set_to_none=True)

            def configure_optimizers(self):
                opt_g = torch.optim.Adam(self.g.parameters(), lr=1e-4)
                opt_d = torch.optim.Adam(self.d.parameters(), lr=4e-4)
                decay = torch.optim.lr_scheduler.ExponentialLR(opt_g, gamma=0.99)
                return [opt_g, opt_d], [decay]
        """
    )
    opt_g, opt_d = m.optimizers
    (decay,) = m.schedulers
    step = next(s for s in m.scopes if s.name == "training_step")
    zero = next(s for s in m.scopes if s.name == "optimizer_zero_grad")
    assert m.holds(step, "g") == [opt_g] and m.holds(step, "d") == [opt_d]
    assert m.holds(step, "first") == [opt_g, opt_d]
    assert m.holds(step, "sched") == [decay]  # one scheduler: itself, not a list
    assert m.holds(zero, "opt") == [opt_g, opt_d]  # a renamed hook parameter, by position


def test_getattr_of_the_torch_scheduler_module_is_a_scheduler():
    m = model_of(
        """
        import torch
        opt = torch.optim.SGD(params, lr=0.1)
        named = getattr(torch.optim.lr_scheduler, "StepLR")(opt, step_size=3)
        chosen = getattr(torch.optim.lr_scheduler, cfg.name)(opt, **cfg.kwargs)
        other = getattr(some_module, cfg.name)(opt)
        """
    )
    assert [(s.cls, s.origin, s.optimizer_src) for s in m.schedulers] == [
        ("StepLR", "torch", "opt"),
        ("LRScheduler", "torch", "opt"),
    ]


@pytest.mark.parametrize(
    "ret, advice",
    [
        ('{"optimizer": opt, "lr_scheduler": sched}', '`{"scheduler": ..., "interval": "step"}`'),
        ("[opt], [sched]", '`{"scheduler": ..., "interval": "step"}`'),
        ('[opt], [{"scheduler": sched}]', "in its config dict"),
        # Lightning reads "interval" only inside the scheduler's config dict.
        ('{"optimizer": opt, "lr_scheduler": sched, "interval": "step"}', "is ignored"),
    ],
)
def test_sl209_advice_fits_the_return_form(ret, advice):
    src = f"""
    import lightning as L
    import torch


    class Model(L.LightningModule):
        def configure_optimizers(self):
            opt = torch.optim.AdamW(self.parameters(), lr=1e-3)
            sched = torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=1e-2, total_steps=self.trainer.estimated_stepping_batches)
            return {ret}
    """
    ((_, _, help_text),) = with_help(src, "SL209")
    assert advice in help_text
    assert '"lr_scheduler": {' not in help_text  # the old advice fitted only a dict return


def test_sl209_help_for_a_step_counting_lambda_reads_as_a_sentence():
    # The help began "It is its `lr_lambda` counts steps": the reason for a LambdaLR is a
    # clause of its own, not a description after "It is".
    src = """
    import lightning as L
    import torch


    class Model(L.LightningModule):
        def configure_optimizers(self):
            opt = torch.optim.AdamW(self.parameters(), lr=1e-3)
            warmup = lambda step: min(1.0, (step + 1) / self.hparams.warmup_steps)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
    """
    ((_, _, help_text),) = with_help(src, "SL209")
    assert help_text.startswith("Its `lr_lambda` counts steps")
    assert "It is its" not in help_text
