from schedlint.model.frameworks import lightning_steps
from schedlint.rules.base import Report, rule


@rule("SL210", "lightning-plateau-without-monitor", "error")
def lightning_plateau_without_monitor(model):
    """`ReduceLROnPlateau` returned from `configure_optimizers` without a `monitor`.

    ## What it does
    Flags a `ReduceLROnPlateau` that a LightningModule's `configure_optimizers` hands to
    Lightning with no `monitor` where Lightning reads it: in the scheduler config dict, or,
    for a bare scheduler in a single `{"optimizer": ..., "lr_scheduler": ...}` dict, at the
    top level of that dict. A top-level `monitor` next to a config dict, in an
    `[opt], [sched]` pair, or in a list of optimizer dicts is not read. Modules with manual
    optimization are skipped (they step the scheduler, with its metric, themselves).

    ## Why is this bad?
    Lightning steps `ReduceLROnPlateau` with the logged metric named by `monitor`. Without one
    it raises `MisconfigurationException` when `trainer.fit()` sets up the optimizers, after
    the data and model are built (Lightning 2.x); a monitor written where Lightning does not
    look for it fails the same way.

    ## Example
    ```python
    import lightning as L
    import torch


    class Regressor(L.LightningModule):
        def configure_optimizers(self):
            optimizer = torch.optim.Adam(self.parameters(), lr=1e-3)
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=3)
            return {"optimizer": optimizer,
                    "lr_scheduler": {"scheduler": plateau}, "monitor": "val_loss"}
    ```

    ## Use instead
    ```python
    import lightning as L
    import torch


    class Regressor(L.LightningModule):
        def configure_optimizers(self):
            optimizer = torch.optim.Adam(self.parameters(), lr=1e-3)
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=3)
            return {"optimizer": optimizer,
                    "lr_scheduler": {"scheduler": plateau, "monitor": "val_loss"}}
    ```
    """
    for entry in lightning_steps(model):
        if entry.scheduler.cls == "ReduceLROnPlateau" and entry.monitor is None:
            yield Report(
                entry.value.node,
                "`ReduceLROnPlateau` is returned without a `monitor` Lightning reads",
                help="`trainer.fit()` raises MisconfigurationException: put "
                '`"monitor": "val_loss"` (a metric you log) in the '
                '`lr_scheduler` dict, next to `"scheduler"`',
            )
