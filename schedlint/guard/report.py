"""What ``guard.report()`` returns, the bounded LR history behind ``--plot``, and the plot."""

from __future__ import annotations

from dataclasses import dataclass, field

from schedlint.guard.violations import Violation, format_lr, format_pair


@dataclass
class GuardReport:
    """A snapshot of one guard: steps seen, violations per code and group, last LRs."""

    optimizer: str
    groups: list
    optimizer_steps: int
    schedulers: list  # [(class name, top-level steps seen, role)]
    violations: list  # the first violations, in full (bounded)
    counts: dict  # {(code, group_index): occurrences}, every occurrence counted
    pending: list  # SLG107 findings as of now (emitted when the guard closes)
    not_checked: list  # reasons something could not be checked
    last_expected: list | None = None
    last_actual: list | None = None
    baseline: list | None = None  # [(baseline lr, where it came from)] per group
    built_at: str | None = None  # "file:line" of the optimizer's constructor, when seen

    @property
    def total(self) -> int:
        return sum(self.counts.values()) + len(self.pending)

    @property
    def ok(self) -> bool:
        return self.total == 0

    def by_code(self) -> dict:
        out: dict = {}
        for (code, _group), n in self.counts.items():
            out[code] = out.get(code, 0) + n
        for v in self.pending:
            out[v.code] = out.get(v.code, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict:
        return {
            "optimizer": self.optimizer,
            "groups": list(self.groups),
            "optimizer_steps": self.optimizer_steps,
            "schedulers": [{"name": n, "steps": s, "role": r} for n, s, r in self.schedulers],
            "violations": [v.to_dict() for v in self.violations],
            "counts": {f"{c}:{g}": n for (c, g), n in self.counts.items()},
            "pending": [v.to_dict() for v in self.pending],
            "not_checked": list(self.not_checked),
            "last_expected": self.last_expected,
            "last_actual": self.last_actual,
            "baseline": [{"lr": b, "source": src} for b, src in (self.baseline or [])],
        }

    def __str__(self) -> str:
        named = any(g != str(i) for i, g in enumerate(self.groups))
        labels = f" ({', '.join(repr(g) for g in self.groups)})" if named else ""
        n = len(self.groups)
        lines = [
            f"{self.optimizer}: {n} param group{'s' if n != 1 else ''}{labels}, "
            f"{self.optimizer_steps} optimizer steps"
        ]
        if self.schedulers:
            lines.append(
                "  schedulers: "
                + ", ".join(
                    f"{n} ({s} steps{'' if r == 'watched' else ', ' + r})"
                    for n, s, r in self.schedulers
                )
            )
        else:
            lines.append("  schedulers: none")
        if self.last_actual is not None:
            parts = []
            for i, label in enumerate(self.groups[: len(self.last_actual)]):
                exp = (
                    None
                    if self.last_expected is None or i >= len(self.last_expected)
                    else self.last_expected[i]
                )
                if exp is None:
                    parts.append(f"{label}={format_lr(self.last_actual[i])}")
                else:
                    e, a, _rel = format_pair(exp, self.last_actual[i])
                    parts.append(f"{label}={a} (expected {e})")
            lines.append("  last lr: " + ", ".join(parts))
        if self.baseline:
            sources = sorted({src for _b, src in self.baseline})
            lines.append(
                "  baseline: "
                + ", ".join(
                    f"{label}={format_lr(b)}" for label, (b, _s) in zip(self.groups, self.baseline)
                )
                + f" ({'; '.join(sources)})"
            )
        if self.ok:
            lines.append("  no violations")
        else:
            lines.append(
                f"  {self.total} violation(s): "
                + ", ".join(f"{c} x{n}" for c, n in self.by_code().items())
            )
            firsts: dict = {}
            for v in self.violations:
                firsts.setdefault((v.code, v.group_index), v)
            # One line per (code, group), the first occurrence with the count of the rest; each
            # code's explanation once, under its first line (the live warning had it already).
            helped = set()
            for (code, group), v in firsts.items():
                n = self.counts.get((code, group), 1)
                lines.append(
                    f"    {v.summary.removesuffix('.')} [{n} times]"
                    if n > 1
                    else f"    {v.summary}"
                )
                if code not in helped:
                    helped.add(code)
                    lines.append(f"      help: {v.help}")
            for v in self.pending:
                lines.append(f"    {v.summary}")
                if v.code not in helped:
                    helped.add(v.code)
                    lines.append(f"      help: {v.help}")
        for reason in self.not_checked:
            lines.append(f"  not checked: {reason}")
        return "\n".join(lines)


@dataclass
class History:
    """Each group's actual and expected LR per optimizer step, in bounded memory.

    When ``max_points`` samples are held, every other one is dropped and the sampling stride
    doubles, so a run of any length keeps an evenly spaced picture of the whole run.
    """

    max_points: int
    stride: int = 1
    steps: list = field(default_factory=list)
    actual: list = field(default_factory=list)
    expected: list = field(default_factory=list)
    marks: list = field(default_factory=list)  # (step, group, code) of violations, bounded
    mark_values: list = field(
        default_factory=list
    )  # each mark's wrong lr (None: not about a value)

    def add(self, step: int, actual: list, expected) -> None:
        if step % self.stride:
            return
        self.steps.append(step)
        self.actual.append(actual)
        self.expected.append(expected)
        if len(self.steps) >= self.max_points:
            self.steps = self.steps[::2]
            self.actual = self.actual[::2]
            self.expected = self.expected[::2]
            self.stride *= 2

    def mark(self, violation: Violation) -> None:
        if len(self.marks) < self.max_points:
            self.marks.append((violation.optimizer_step, violation.group_index, violation.code))
            self.mark_values.append(violation.actual)


def mark_point(hist: History, k: int):
    """Where mark ``k`` is drawn: at the step of the violation, at the wrong lr it names (a write
    a closed-form scheduler overwrote before any step used it is in no sample), else on the group's
    line; None when not drawable on a log axis."""
    step, group, _code = hist.marks[k]
    idx = min(range(len(hist.steps)), key=lambda j: abs(hist.steps[j] - step))
    value = hist.mark_values[k] if k < len(hist.mark_values) else None
    if not isinstance(value, (int, float)) or not value > 0 or value == float("inf"):
        row = hist.actual[idx]
        value = row[group] if group is not None and group < len(row) else row[0]
    if value is None or not value > 0:
        return None
    return step, value


def plot(histories: list, path: str) -> str:
    """Draw every guarded optimizer's group LRs (actual solid, expected dashed, violations as
    red crosses) into ``path``. ``histories`` is ``[(title, labels, History), ...]``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise RuntimeError(
            "plotting needs matplotlib: pip install matplotlib, or '.[plot]' from a clone of schedlint"
        ) from exc
    histories = [h for h in histories if h[2] is not None and h[2].steps]
    rows = max(1, len(histories))
    fig, axes = plt.subplots(rows, 1, figsize=(9, 3.2 * rows), squeeze=False)
    for ax, (title, labels, hist) in zip(axes[:, 0], histories):
        for i, label in enumerate(labels):
            ys = [a[i] if i < len(a) else None for a in hist.actual]
            (line,) = ax.plot(hist.steps, ys, label=f"{label}")
            exp = [e[i] if e is not None and i < len(e) else None for e in hist.expected]
            if any(x is not None for x in exp):
                ax.plot(
                    hist.steps,
                    [float("nan") if x is None else x for x in exp],
                    "--",
                    color=line.get_color(),
                    alpha=0.6,
                    label=f"{label} expected",
                )
        for k, (_step, group, code) in enumerate(hist.marks):
            point = mark_point(hist, k)
            if point is None:
                continue  # not drawable on a log axis; the report lists it
            ax.plot([point[0]], [point[1]], "x", color="red", markersize=9, zorder=5)
            # A wrong lr may sit near another group's line: say which group it is about.
            who = f" {labels[group]}" if group is not None and group < len(labels) else ""
            ax.annotate(code + who, point, color="red", fontsize=7)
        ax.set_title(title)
        ax.set_xlabel("optimizer step")
        # Group lrs differ by orders of magnitude and decays are exponential: a log axis shows
        # every group and every ratio. Zero or negative values are left out of the line.
        ax.set_yscale("log", nonpositive="mask")
        ax.set_ylabel("lr (log scale)")
        ax.legend(fontsize=7)
    if not histories:
        axes[0, 0].set_title("no optimizer steps recorded")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
