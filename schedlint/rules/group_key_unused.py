from schedlint.rules.base import ProjectReport, clip, rule


@rule("SL107", "group-lr-key-never-applied", "warning", scope="project")
def group_lr_key_never_applied(project):
    """A param-group dict carries an LR scaling key (`lr_mult`, `lr_scale`, ...) nothing reads.

    ## What it does
    Flags a custom scaling key (`lr_mult`, `lr_mul`, `lr_scale`, `lr_factor`,
    `lr_multiplier`, `lr_ratio`, ...) in a param-group dict (`{"params": ..., "lr_mult": 0.1}`
    or `dict(params=..., lr_mult=0.1)`) when no file of the project ever reads that key
    (`g["lr_mult"]`, `g.get("lr_mult")`, `"lr_mult" in g`, or the key named in any other
    string). This is a project rule: the reader may live in any file. When a run names only
    some files or a subfolder (pre-commit, `--stdin-filename`, an editor), the rest of the
    project (the folder above them holding `pyproject.toml` or `.git`, with the same excludes)
    is read for readers of the key, without reporting on it, so the named files get the
    findings a run over the whole project gives them. That read happens only when a named file
    sets a key none of them reads, and models only the files whose text names that key.
    Not flagged when the same dict's own `lr` already applies the scale
    (`{"lr": base_lr * s, "lr_scale": s}`), or, for `lr_scale`, when a checked file builds a
    timm scheduler (`timm.scheduler.*`, `create_scheduler*`), which applies it; importing timm
    for anything else does not count. Nor when an optimizer built from the module's groups is
    handed, there or by a module calling the function that builds it, to a function imported
    from a module the project lacks and no known library provides (`train_one_epoch(model,
    loader, optimizer)` from an engine a folder meant to be copied over another checkout
    leaves out): that function sets the lr in code no file of the project holds.

    ## Why is this bad?
    torch keeps unknown group keys but never looks at them: only `lr` sets a group's
    learning rate. Unless your own scheduler or training loop multiplies the key in, the
    group trains at the unscaled LR, and the layer-wise decay or the 10x head LR it was meant
    to give never happens. Nothing fails.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.SGD([
        {"params": model.backbone.parameters(), "lr_mult": 0.1},
        {"params": model.head.parameters()},
    ], lr=0.01)
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.SGD([
        {"params": model.backbone.parameters(), "lr": 0.01 * 0.1},
        {"params": model.head.parameters()},
    ], lr=0.01)
    ```
    (or apply the key wherever the LR is set: `g["lr"] = lr * g.get("lr_mult", 1.0)`.)
    """
    read = set()
    for facts in project.files:
        read |= facts.read_keys
    for facts in project.files:
        for key, line, column, end_line, end_column in facts.group_keys:
            # Keys without "lr_" (lrmult) could be read in a file the byte prefilter skips.
            if key in read or "lr_" not in key:
                continue
            yield ProjectReport(
                facts.path,
                line,
                column,
                end_line,
                end_column,
                f"param-group key `{clip(key, 30)}` is set here but no file of the project reads it",
                help=f'No file reads it (`g["{key}"]`, `g.get("{key}")`, `"{key}" in g`), '
                f"and torch ignores unknown group keys, so this group trains at the "
                f"unscaled lr; apply it where the lr is set "
                f'(`g["lr"] = lr * g.get("{key}", 1.0)`) or fold it into the group\'s '
                f"own `lr`",
            )
