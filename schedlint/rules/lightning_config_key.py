from difflib import get_close_matches

from schedlint.model.frameworks import CONFIG_KEYS, INTERVALS, RETURN_KEYS
from schedlint.rules.base import Report, clip, rule


@rule("SL217", "lightning-config-key-ignored", "error")
def lightning_config_key_ignored(model):
    """A key Lightning does not read in what `configure_optimizers` returns, or a bad `interval`.

    ## What it does
    Flags, in the dicts a LightningModule's `configure_optimizers` returns, a key Lightning
    does not know: beside `"optimizer"` anything but `"lr_scheduler"` and `"monitor"`
    (`"scheduler"`, `"lr_schedulers"`), and in a scheduler's config dict anything but
    `"scheduler"`, `"interval"`, `"frequency"`, `"monitor"`, `"name"`, `"strict"` and
    `"reduce_on_plateau"` (`"intervals"`, `"freq"`). A config dict built by a helper method
    is read too. An `"interval"` beside `"optimizer"` is SL209's. It also flags an
    `"interval"` that is a string other than `"step"` or `"epoch"`.

    ## Why is this bad?
    Lightning drops an unknown key with a warning that scrolls past in the first lines of
    the log. `{"optimizer": optimizer, "scheduler": scheduler}` hands Lightning no scheduler
    at all: the lr stays constant for the whole run. A misspelt `"intervals": "step"`
    leaves the default, once per epoch, for a schedule sized in steps. An `interval` of
    `"steps"` makes `trainer.fit()` raise once the data and model are set up.

    ## Example
    ```python
    import lightning as L
    import torch


    class Classifier(L.LightningModule):
        def configure_optimizers(self):
            optimizer = torch.optim.AdamW(self.parameters(), lr=3e-4)
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=50)
            return {"optimizer": optimizer, "scheduler": scheduler}
    ```

    ## Use instead
    ```python
    import lightning as L
    import torch


    class Classifier(L.LightningModule):
        def configure_optimizers(self):
            optimizer = torch.optim.AdamW(self.parameters(), lr=3e-4)
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=50)
            return {"optimizer": optimizer, "lr_scheduler": scheduler}
    ```
    """
    for hook in model.lightning:
        for key, value in hook.dropped:
            if key == "interval":
                continue  # meant for the scheduler: SL209 judges it
            report = _dropped(value, key, top=True)
            if report is not None:
                yield report
        for entry in hook.schedulers:
            for key, value in entry.dropped:
                report = _dropped(value, key, top=False)
                if report is not None:
                    yield report
            interval = entry.interval
            if interval is not None and interval.kind == "str" and interval.string not in INTERVALS:
                meant = next(iter(get_close_matches(interval.string, INTERVALS, 1, 0.5)), None)
                yield Report(
                    interval.node,
                    f'Lightning accepts an `interval` of "step" or "epoch", not '
                    f'"{clip(interval.string, 20)}"',
                    help="`trainer.fit()` raises MisconfigurationException once the data and "
                    "model are set up; "
                    + (
                        f'write "{meant}"'
                        if meant
                        else 'write "step" (after every optimizer step) or "epoch"'
                    ),
                )


# The keys whose loss changes the run, with what Lightning does without them (a number or a
# string: a literal equal to it changes nothing; None: there is no default).
_DEFAULTS = {
    "lr_scheduler": None,
    "scheduler": None,
    "monitor": None,
    "interval": "epoch",
    "frequency": 1,
}


def _meant(key, top: bool) -> str | None:
    """The key Lightning reads that ``key`` stands for: itself at the wrong level, or the
    one it misspells (``intervals``, ``lr_schedulers``); the scheduler itself is
    ``lr_scheduler`` beside the optimizer and ``scheduler`` in its config dict."""
    known = sorted(RETURN_KEYS | CONFIG_KEYS)
    meant = key if key in known else next(iter(get_close_matches(key, known, 1, 0.75)), None)
    if meant in ("scheduler", "lr_scheduler"):
        return "lr_scheduler" if top else "scheduler"
    return meant


def _dropped(value, key, top: bool):
    """The report for a dropped key that changes the run, else None (a key of the project's
    own, or one set to what Lightning does anyway)."""
    meant = _meant(key, top)
    where = "the dict `configure_optimizers` returns" if top else "a scheduler config dict"
    if meant not in _DEFAULTS:
        return None
    default = _DEFAULTS[meant]
    if default is not None and (value.number == default or value.string == default):
        return None
    if meant in ("lr_scheduler", "scheduler"):
        effect = "no scheduler is handed over and nothing steps it: the lr stays constant"
    elif meant == "monitor":
        effect = "no metric is monitored"
    else:
        effect = f'the scheduler keeps the default "{meant}" ({default})'
    spelt = f', meant as "{meant}"' if meant != key else ""
    return Report(
        value.node,
        f'Lightning ignores the key "{clip(key, 30)}" in {where}{spelt}',
        help=f"Lightning drops keys it does not read with only a warning, so {effect}; "
        + _fix(key, meant, top),
    )


def _fix(key, meant, top) -> str:
    if meant != key:
        return f'name it "{meant}"'
    if top:
        return f'move it into the scheduler\'s config dict, `{{"scheduler": ..., "{key}": ...}}`'
    return "move it beside the optimizer, in the dict `configure_optimizers` returns"
