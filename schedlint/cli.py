"""The ``schedlint`` command line.

``schedlint PATH...`` is ``schedlint check PATH...``. Exit status: 0 nothing found, 1 findings,
2 a usage/configuration error or an internal error (SL003), 130 interrupted (Ctrl-C). No
traceback reaches the user unless ``SCHEDLINT_DEBUG=1`` is set.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from schedlint import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _fail(message: str) -> NoReturn:  # noqa: F821
    click.echo(f"schedlint: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _interrupted() -> NoReturn:  # noqa: F821
    # 130 = 128 + SIGINT, as shells report it; never 1, which says "findings".
    click.echo("schedlint: interrupted", err=True)
    sys.exit(130)


def _codes_option(ctx, param, values):
    """``--select SL1,SL201 --select ALL``: the rule codes named, expanded once, or None."""
    out = []
    for value in values or ():
        out += [v.strip() for v in value.split(",") if v.strip()]
    if not out:
        return None
    from schedlint.rules import expand_selectors

    try:
        return frozenset(expand_selectors(out))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


class _Schedlint(click.Group):
    """``schedlint PATH...`` (and ``schedlint --select X PATH``) is ``schedlint check``; no
    traceback ever reaches the user (the console script is this group)."""

    def parse_args(self, ctx, args):
        if not args or (
            args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")
        ):
            args = ["check", *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # click would print "Aborted!" and exit 1
            _interrupted()

    def main(self, args=None, prog_name=None, *rest, **kwargs):
        from schedlint.report.console import tolerate_unencodable_output

        tolerate_unencodable_output()
        try:
            return super().main(args, prog_name or "schedlint", *rest, **kwargs)
        except KeyboardInterrupt:  # outside a command (while starting up)
            _interrupted()
        except Exception as exc:  # a bug in schedlint itself
            if os.environ.get("SCHEDLINT_DEBUG"):
                raise
            click.echo(
                f"schedlint: internal error: {type(exc).__name__}: {exc} "
                f"(set SCHEDLINT_DEBUG=1 for a traceback)",
                err=True,
            )
            sys.exit(EXIT_ERROR)


@click.group(cls=_Schedlint, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="schedlint")
def main():
    """Catch misuse of PyTorch learning-rate schedulers and param groups.

    \b
    schedlint PATH...          check files and directories (same as `schedlint check`)
    schedlint rule CODE        explain a rule; `schedlint rule --all` lists them
    schedlint run SCRIPT ...   run a training script with the runtime guard on
    """


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--select",
    multiple=True,
    callback=_codes_option,
    help="Rule codes or prefixes to run (comma separated), e.g. SL1,SL201. ALL = all.",
)
@click.option("--ignore", multiple=True, callback=_codes_option, help="Codes or prefixes to skip.")
@click.option(
    "--extend-select",
    multiple=True,
    callback=_codes_option,
    help="Codes or prefixes to add to the selection.",
)
@click.option(
    "--output-format",
    type=click.Choice(["concise", "full", "text", "json", "sarif", "github"]),
    default=None,
    help="How to print findings (default: full on a terminal, else "
    "concise; text is concise's old name).",
)
@click.option("--no-color", is_flag=True, help="No colour in `full` output (also: NO_COLOR=1).")
@click.option(
    "--show-fixes",
    is_flag=True,
    help="Show each finding's fix; with --fix, list what was fixed (stderr).",
)
@click.option("--statistics", is_flag=True, help="Print a count per rule instead of findings.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when something is found.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Read configuration from this pyproject.toml (or a toml file of the keys).",
)
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=0,
    help="Worker processes (default: all cores; 1 = no pool).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print findings only, no summary.")
@click.option(
    "--stdin-filename",
    help="Read the source from stdin (as `-` does) and report it under this name.",
)
@click.option(
    "--force-exclude",
    is_flag=True,
    help="Apply configured excludes to explicitly named files too (pre-commit).",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write .schedlint_cache/.")
@click.option(
    "--check-syntax",
    is_flag=True,
    help="Also report syntax errors (SL001) in files with no optimizer or scheduler "
    "code, which are otherwise skipped unparsed.",
)
@click.option("--no-respect-gitignore", is_flag=True, help="Check files .gitignore excludes.")
@click.option("--timings", is_flag=True, help="Print where the time went (stderr).")
@click.option(
    "--list-files",
    is_flag=True,
    help="Also print every file that was checked, one `checked: PATH` line each "
    "(stderr), e.g. to confirm which files a run covered.",
)
@click.option(
    "--fix", is_flag=True, help="Apply safe fixes, write the files, then report what remains."
)
@click.option(
    "--unsafe-fixes",
    is_flag=True,
    help="Also offer (and with --fix/--diff apply) fixes that change behaviour.",
)
@click.option(
    "--diff",
    is_flag=True,
    help="Print a unified diff of the fixes instead of writing them; exit 1 if there "
    "is one, 0 if not.",
)
def check(paths, **flags):
    """Check PATHS (files or directories; default `.`; `-` reads stdin)."""
    t0 = time.perf_counter()
    # As ruff: --stdin-filename means the source comes on stdin, with or without `-` (editors
    # pass only the file name).
    stdin_name = flags["stdin_filename"]
    paths = list(paths) or ([] if stdin_name is not None else ["."])
    use_stdin = "-" in paths or stdin_name is not None
    paths = [p for p in paths if p != "-"]
    cfg = _config(paths, flags)
    found = _discover(paths, cfg, flags)
    stdin_name = stdin_name or "-"
    options = _options(cfg, found.files + ([stdin_name] if use_stdin else []), flags)
    stdin = (stdin_name, sys.stdin.buffer.read()) if use_stdin else None
    done = _check(found, options, stdin, paths, _walker(cfg, flags))
    done.started = t0
    sys.exit(_print(done, found, options, flags, stdin))


def _config(paths, flags):
    """The configuration of the first path: its excludes, where the cache goes, and the
    selection of every file without a nearer configuration (exit 2 on a configuration error)."""
    from schedlint import config as cfgmod

    try:
        if flags["isolated"]:
            return cfgmod.Config()
        if flags["config_file"]:
            return cfgmod.load_config(Path(flags["config_file"]))
        first = Path(paths[0]) if paths else Path(flags["stdin_filename"] or ".")
        return cfgmod.load_config(cfgmod.find_pyproject(first))
    except cfgmod.ConfigError as exc:
        _fail(str(exc))


def _options(cfg, files, flags):
    """The run's :class:`Options`: as ruff, each file reports under the nearest pyproject.toml
    with [tool.schedlint] above it, unless --config or --isolated fixes one for all (exit 2 on
    a configuration error)."""
    from schedlint import config as cfgmod
    from schedlint.check.options import from_config

    fixed = flags["isolated"] or flags["config_file"]
    configs = cfgmod.PerFileConfigs(fixed=cfg if fixed else None)
    try:
        per_file = {} if fixed else {p: configs.config(p) for p in files}
        return from_config(
            cfg,
            select=flags["select"],
            ignore=flags["ignore"],
            extend_select=flags["extend_select"],
            per_file=per_file,
            check_syntax=flags["check_syntax"],
            jobs=flags["jobs"],
            fix=flags["fix"],
            unsafe_fixes=flags["unsafe_fixes"],
            diff=flags["diff"],
            timings=flags["timings"],
            cache_dir=None if flags["no_cache"] else (cfg.root if cfg.path else Path.cwd()),
        )
    except cfgmod.ConfigError as exc:
        _fail(str(exc))


def _discover(paths, cfg, flags):
    from schedlint import config as cfgmod
    from schedlint.check.files import discover
    from schedlint.report.formats import printable

    found = discover(
        paths,
        cfg.excludes,
        cfg.root,
        respect_gitignore=not flags["no_respect_gitignore"],
        force_exclude=flags["force_exclude"],
    )
    for warning in found.warnings:
        click.echo(f"schedlint: warning: {printable(warning)}", err=True)
    for missing in found.missing:
        click.echo(f"schedlint: error: {printable(missing)}: No such file or directory", err=True)
    if found.walked_directory and cfg.per_file_ignores:
        unmatched = cfgmod.unmatched_per_file_globs(cfg, found.files)
        if unmatched:
            _fail(
                f"{cfg.path}: [tool.schedlint] key 'per-file-ignores': pattern "
                f"{unmatched[0]!r} matches no checked file"
            )
    return found


class _Outcome:
    """What a check run produced, and when (for --timings)."""

    def __init__(self):
        self.results, self.findings, self.outcomes, self.split = [], [], None, {}
        self.started = self.discovered = self.checked = self.saved = self.projected = 0.0


def _walker(cfg, flags):
    """The files a run over one folder checks (the same excludes and .gitignore): how the
    project rules see the rest of a project when only part of it is named."""
    from schedlint.check.files import discover

    def walk(root):
        return discover(
            [root], cfg.excludes, cfg.root, respect_gitignore=not flags["no_respect_gitignore"]
        ).files

    return walk


def _check(found, options, stdin, named=(), walk=None) -> _Outcome:
    """Check, fix (--fix/--diff), save the cache, run the project rules."""
    from schedlint.check.engine import (
        check_paths,
        project_readers,
        run_project_rules,
        sort_findings,
    )

    run = _Outcome()
    run.discovered = time.perf_counter()
    cache = None
    if options.cache_dir is not None and found.files:
        from schedlint.check.cache import ResultCache

        cache = ResultCache(options.cache_dir, options)
    run.results = check_paths(
        found.files,
        options,
        cache=cache,
        stdin=stdin,
        timings=run.split if options.timings else None,
    )
    if options.fix or options.diff:  # ruff semantics: --diff never writes
        run.outcomes = _apply_fixes(run.results, options, stdin, cache)
    run.checked = time.perf_counter()
    if cache is not None:
        cache.save()
    run.saved = time.perf_counter()
    findings = [f for r in run.results for f in r.findings]
    # Project rules (SL107) judge the whole project: on part of it (pre-commit passes only the
    # staged files, a subfolder, stdin) the key may be read in a file not checked, so the rest
    # of the project lends its readers, unreported.
    others = project_readers(run.results, list(named), walk, options) if walk else []
    findings += run_project_rules(run.results + others, options.all_codes())
    run.projected = time.perf_counter()
    run.findings = sort_findings(findings)
    return run


def _print(run: _Outcome, found, options, flags, stdin) -> int:
    """Print the findings, the summary and what was asked for; the exit status."""
    from schedlint.report.formats import format_findings, printable, summary
    from schedlint.report.formats import statistics as stats_text

    findings, outcomes, unsafe = run.findings, run.outcomes, options.unsafe_fixes
    internal = any(f.code == "SL003" for f in findings) or any(r.crashed for r in run.results)
    if options.diff:
        return _report_diff(
            outcomes, findings, flags["quiet"], unsafe, internal or bool(found.missing)
        )
    fixed = sum(o.fixed_total for o in outcomes) if outcomes is not None else None
    to_err = bool(options.fix and stdin is not None)  # as ruff: the fixed source goes to stdout
    if to_err:
        done = next((o for o in outcomes if o.stdin), None)
        click.echo(done.fixed if done is not None else stdin[1], nl=False)
    # As ruff: the full format (source, caret, help) on a terminal, one line a finding in pipes.
    tty = sys.stdout.isatty()
    fmt = flags["output_format"] or ("full" if tty else "concise")
    if flags["statistics"]:
        click.echo(stats_text(findings, unsafe), nl=False, err=to_err)
    else:
        color = use_color(tty and not to_err, flags["no_color"], os.environ)
        click.echo(
            format_findings(
                findings,
                fmt,
                unsafe,
                show_fixes=flags["show_fixes"],
                color=color,
                source_of=_sources(stdin, outcomes),
            ),
            nl=False,
            err=to_err,
        )
    if flags["show_fixes"] and outcomes is not None and not flags["quiet"]:
        click.echo(_fixed_report(outcomes), nl=False, err=True)
    # "All checks passed!" would contradict the error about a named path that does not exist.
    passed_missing = bool(found.missing) and not findings
    if (
        not flags["quiet"]
        and not passed_missing
        and (fmt in ("concise", "full", "text") or flags["statistics"])
    ):
        click.echo(summary(findings, fixed=fixed, unsafe_fixes=unsafe), err=True)
    if flags["list_files"]:
        for r in run.results:
            click.echo(f"checked: {printable(r.path)}", err=True)
    if options.timings:
        _print_timings(run, found)
    if internal or found.missing:  # a named path that does not exist is a usage error
        return EXIT_ERROR
    if findings and not flags["exit_zero"]:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def use_color(tty: bool, no_color: bool, env) -> bool:
    """Colour only on a terminal, and never with --no-color or a non-empty NO_COLOR
    (https://no-color.org)."""
    return tty and not no_color and not env.get("NO_COLOR")


def _sources(stdin, outcomes):
    """``source_of(path)`` for the full format: the text the findings' positions refer to."""
    from schedlint.check.documents import DocumentError, decode, read_bytes

    fixed_stdin = next((o.fixed for o in outcomes or () if o.stdin), None)

    def source_of(path):
        try:
            if stdin is not None and path == stdin[0]:
                data = fixed_stdin if fixed_stdin is not None else stdin[1]
            else:
                data = read_bytes(path)  # never waits on a FIFO, as the check's own read
            return decode(data)[0]  # as the check read it: coding cookie, no BOM
        except DocumentError:
            return data.decode("utf-8", errors="replace")
        except (OSError, AttributeError):
            return None

    return source_of


def _fixed_report(outcomes) -> str:
    """``--fix --show-fixes``: what was fixed, per file and rule (ruff's list)."""
    from schedlint.rules import by_code

    rows = [(o.path, code, n) for o in outcomes for code, n in sorted(o.fixed_counts.items()) if n]
    if not rows:
        return ""
    total = sum(n for _, _, n in rows)
    out = [f"Fixed {total} problem{'s' if total != 1 else ''}:"]
    for path in dict.fromkeys(p for p, _, _ in rows):
        out.append(f"- {path}:")
        out += [f"    {n} x {code} ({by_code()[code].name})" for p, code, n in rows if p == path]
    return "\n".join(out) + "\n"


def _print_timings(run: _Outcome, found) -> None:
    from schedlint.check.results import PHASES

    split, t_end = run.split, time.perf_counter()
    click.echo(
        f"timings: discover {run.discovered - run.started:.3f}s, check "
        f"{run.checked - run.discovered:.3f}s ({len(found.files)} files, "
        f"{sum(r.parsed for r in run.results)} parsed), report "
        f"{t_end - run.checked:.3f}s, total {t_end - run.started:.3f}s",
        err=True,
    )
    split["cache"] = split.get("cache", 0.0) + run.saved - run.checked
    workers = split.get("workers", 1)
    phases = ", ".join(f"{p} {split.get(p, 0.0):.3f}" for p in PHASES)
    click.echo(
        f"timings: split (CPU s, summed over {int(workers)} worker"
        f"{'s' if workers != 1 else ''}): {phases}; cache {split.get('cache', 0.0):.3f}, "
        f"project rules {run.projected - run.saved:.3f}, output "
        f"{t_end - run.projected:.3f} (wall s); {int(split.get('cached', 0))} cached, "
        f"{int(split.get('parsed', 0))} parsed",
        err=True,
    )


def _apply_fixes(results, options, stdin, cache):
    """``--fix`` / ``--diff``: fix each file with an applicable fix (see schedlint.check.fixes)."""
    from schedlint.check.fixes import fix_results

    outcomes = fix_results(results, options, stdin=stdin)
    for o in outcomes:
        if not o.converged:
            click.echo(
                f"schedlint: warning: {o.path}: fixes did not converge; the file may "
                f"still have fixable problems",
                err=True,
            )
        if o.rejected:
            click.echo(
                f"schedlint: warning: {o.path}: skipped {o.rejected} fix(es) whose "
                f"result would not parse (a schedlint bug; please report it)",
                err=True,
            )
        if options.fix and not options.diff and o.changed and cache is not None and not o.stdin:
            from schedlint.check.cache import dependency_digest

            cache.put(o.result, dependency_digest(o.result.deps))
    return outcomes


def _report_diff(outcomes, findings, quiet, unsafe, internal) -> int:
    """``--diff``: the diffs on stdout; exit 1 if there is one, 0 if not (2: internal error)."""
    from schedlint.report.formats import fixable

    text = "".join(o.diff() for o in outcomes)
    click.echo(text, nl=False)
    if not quiet:
        fixed = sum(o.fixed_total for o in outcomes)
        hidden = 0 if unsafe else sum(fixable(f, True) and not fixable(f) for f in findings)
        hint = f" ({hidden} more with `--unsafe-fixes`)" if hidden else ""
        if fixed:
            click.echo(f"Would fix {fixed} problem{'s' if fixed != 1 else ''}{hint}.", err=True)
        else:
            click.echo(f"No problems would be fixed{hint}.", err=True)
    if internal:
        return EXIT_ERROR
    return EXIT_FINDINGS if text else EXIT_CLEAN


def _rule_record(r) -> dict:
    """A rule as `schedlint rule --output-format json` prints it."""
    return {
        "code": r.code,
        "name": r.name,
        "summary": r.summary,
        "severity": r.severity,
        "kind": r.kind,
        "fix": r.fixable,
    }


@main.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="List every rule.")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text")
def rule(code, show_all, output_format):
    """Explain rule CODE (what it flags, why, an example, the fix)."""
    import json

    from schedlint.rules import all_rules, by_code

    if show_all:
        rules = all_rules()
        if output_format == "json":
            click.echo(json.dumps([_rule_record(r) for r in rules], indent=2))
            return
        for r in rules:
            click.echo(f"{r.code}\t{r.name}\t{r.summary}")
        return
    if not code:
        _fail("give a rule code (e.g. `schedlint rule SL101`) or --all")
    r = by_code().get(code.upper())
    if r is None:
        _fail(f"unknown rule {code!r}; `schedlint rule --all` lists them")
    if output_format == "json":
        click.echo(json.dumps({**_rule_record(r), "docs": r.docs}, indent=2))
    else:
        click.echo(r.markdown(), nl=False)


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    help="Draw each group's actual and expected LR to this PNG (needs matplotlib).",
)
@click.option(
    "--on-violation",
    "on_violation",
    type=click.Choice(["raise", "warn", "log"]),
    default=None,
    help="raise (stop at the first violation, exit 1), or warn/log every violation and "
    "report them all at the end. Default: $SCHEDLINT_ON_VIOLATION, else raise.",
)
@click.option(
    "--ignore",
    "ignore",
    multiple=True,
    metavar="CODES",
    help="Guard codes not to report, comma separated or repeated (e.g. SLG112).",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Name the source line of every LR write made outside a scheduler (slower LR writes).",
)
@click.argument("script", type=click.Path(dir_okay=False))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(plot, on_violation, ignore, watch, script, args):
    """Run SCRIPT with every optimizer and scheduler it creates guarded."""
    try:
        from schedlint.guard.runner import run_script
    except ImportError as exc:
        _fail(
            f"the runtime guard needs torch: pip install torch, or '.[guard]' from a clone of schedlint ({exc})"
        )
    codes = [c.strip().upper() for item in ignore for c in item.split(",") if c.strip()]
    sys.exit(
        run_script(
            script, list(args), plot=plot, on_violation=on_violation, ignore=codes, watch=watch
        )
    )
