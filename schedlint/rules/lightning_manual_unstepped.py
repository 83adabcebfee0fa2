from schedlint.model.frameworks import manual_unstepped
from schedlint.model.uses import kept_only_to_return
from schedlint.rules.base import Report, clip, rule


@rule("SL211", "lightning-manual-scheduler-never-stepped", "warning")
def lightning_manual_scheduler_never_stepped(model):
    """A scheduler returned from `configure_optimizers` under manual optimization, never stepped.

    ## What it does
    Flags each scheduler that a LightningModule with `self.automatic_optimization = False`
    returns from `configure_optimizers` when no `step()` call in the file reaches it. It
    stays silent when any code of the file reads schedulers back from Lightning in a way
    the model may not follow (`self.lr_schedulers()`, `trainer.lr_scheduler_configs`) without
    a resolved `step()`, when the scheduler is also kept on `self` and read there other
    than by the return (or named by another file next to the module: a callback or a
    subclass may step it), when the module derives
    from a class of another module (which may step it), and for modules that let Lightning
    optimize (Lightning steps their schedulers itself).

    ## Why is this bad?
    Under manual optimization Lightning steps nothing: not the optimizers and not the
    schedulers, whatever `"interval"` their config gives. A scheduler returned and never
    stepped leaves the lr at its initial value for the whole run; nothing warns.

    ## Example
    ```python
    import lightning as L
    import torch


    class GAN(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            opt.zero_grad()
            self.manual_backward(self.loss(batch))
            opt.step()

        def configure_optimizers(self):
            opt = torch.optim.Adam(self.parameters(), lr=2e-4)
            sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.99)
            return [opt], [sched]
    ```

    ## Use instead
    ```python
    import lightning as L
    import torch


    class GAN(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            opt.zero_grad()
            self.manual_backward(self.loss(batch))
            opt.step()

        def on_train_epoch_end(self):
            self.lr_schedulers().step()

        def configure_optimizers(self):
            opt = torch.optim.Adam(self.parameters(), lr=2e-4)
            sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.99)
            return [opt], [sched]
    ```
    """
    for hook, entry in manual_unstepped(model, kept_only_to_return):
        sched = entry.scheduler
        name = (
            f"`{clip(sched.target, 30)}` (`{sched.cls}`)"
            if sched.target is not None
            else f"a `{sched.cls}`"
        )
        yield Report(
            sched.node,
            f"{name} is returned under manual optimization and never stepped",
            help=f"`{hook.cls.name}` sets `automatic_optimization = False`, so Lightning steps "
            f"no scheduler (the one returned on line {model.line(hook.node)} keeps its "
            f"initial lr); call `self.lr_schedulers().step()` where it should advance, e.g. "
            f"in `on_train_epoch_end`",
        )
