"""The ``schedlint`` command line.

``schedlint PATH...`` is ``schedlint check PATH...``. Exit status: 0 nothing found, 1 findings,
2 a usage/configuration error or an internal error (SL003). No traceback reaches the user
unless ``SCHEDLINT_DEBUG=1`` is set.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from schedlint import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _fail(message: str) -> "NoReturn":  # noqa: F821
    click.echo(f"schedlint: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _comma_list(ctx, param, values):
    out = []
    for value in values or ():
        out += [v.strip() for v in value.split(",") if v.strip()]
    if out:
        from schedlint.rules import expand_selectors

        try:
            expand_selectors(out)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return out


class _DefaultToCheck(click.Group):
    """Route ``schedlint PATH...`` (and ``schedlint --select X PATH``) to ``check``."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and
                        args[0] not in ("--help", "-h", "--version")):
            args = ["check", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--select", multiple=True, callback=_comma_list,
              help="Rule codes or prefixes to run (comma separated), e.g. SL1,SL201. ALL = all.")
@click.option("--ignore", multiple=True, callback=_comma_list, help="Codes or prefixes to skip.")
@click.option("--extend-select", multiple=True, callback=_comma_list,
              help="Codes or prefixes to add to the selection.")
@click.option("--output-format", type=click.Choice(["text", "json", "sarif", "github"]),
              default=None, help="How to print findings (default: text).")
@click.option("--statistics", is_flag=True, help="Print a count per rule instead of findings.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when something is found.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="Read configuration from this pyproject.toml (or a toml file of the keys).")
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0,
              help="Worker processes (default: all cores; 1 = no pool).")
@click.option("--quiet", "-q", is_flag=True, help="Print findings only, no summary.")
@click.option("--stdin-filename", help="File name to report for source read from stdin (`-`).")
@click.option("--force-exclude", is_flag=True,
              help="Apply configured excludes to explicitly named files too (pre-commit).")
@click.option("--no-cache", is_flag=True, help="Do not read or write .schedlint_cache/.")
@click.option("--check-syntax", is_flag=True,
              help="Also report syntax errors (SL001) in files with no optimizer or scheduler "
                   "code, which are otherwise skipped unparsed.")
@click.option("--no-respect-gitignore", is_flag=True, help="Check files .gitignore excludes.")
@click.option("--timings", is_flag=True, help="Print where the time went (stderr).")
@click.option("--list-files", is_flag=True,
              help="Also print every file that was checked, one `checked: PATH` line each "
                   "(stderr), e.g. to confirm which files a run covered.")
@click.option("--fix", is_flag=True,
              help="Apply safe fixes, write the files, then report what remains.")
@click.option("--unsafe-fixes", is_flag=True,
              help="Also offer (and with --fix/--diff apply) fixes that change behaviour.")
@click.option("--diff", is_flag=True,
              help="Print a unified diff of the fixes instead of writing them; exit 1 if there "
                   "is one, 0 if not.")
def check(paths, select, ignore, extend_select, output_format, statistics, exit_zero,
          config_file, isolated, jobs, quiet, stdin_filename, force_exclude, no_cache,
          check_syntax, no_respect_gitignore, timings, list_files, fix=False,
          unsafe_fixes=False, diff=False):
    """Check PATHS (files or directories; default `.`; `-` reads stdin)."""
    from schedlint import config as cfgmod
    from schedlint.check.engine import check_paths, run_project_rules, sort_findings
    from schedlint.check.files import discover
    from schedlint.report.formats import format_findings, statistics as stats_text, summary

    t0 = time.perf_counter()
    paths = list(paths) or ["."]
    use_stdin = "-" in paths
    paths = [p for p in paths if p != "-"]
    try:
        if isolated:
            cfg = cfgmod.Config()
        elif config_file:
            cfg = cfgmod.load_config(Path(config_file))
        else:
            first = Path(paths[0]) if paths else Path(stdin_filename or ".")
            cfg = cfgmod.load_config(cfgmod.find_pyproject(first))
        codes = cfgmod.effective_codes(cfg, select=select, ignore=ignore,
                                       extend_select=extend_select)
    except cfgmod.ConfigError as exc:
        _fail(str(exc))
    found = discover(paths, cfg.excludes, cfg.root, respect_gitignore=not no_respect_gitignore,
                     force_exclude=force_exclude)
    for warning in found.warnings:
        click.echo(f"schedlint: warning: {warning}", err=True)
    if found.walked_directory and cfg.per_file_ignores:
        unmatched = cfgmod.unmatched_per_file_globs(cfg, found.files)
        if unmatched:
            _fail(f"{cfg.path}: [tool.schedlint] key 'per-file-ignores': pattern "
                  f"{unmatched[0]!r} matches no checked file")
    stdin = None
    if use_stdin:
        stdin = (stdin_filename or "-", sys.stdin.buffer.read())
    elif not (no_cache or fix or diff or timings):  # a run `schedlint` may replay next time
        from schedlint.check import replay

        replay.note_check(cfg, paths, found, isolated=isolated, config_file=config_file,
                          respect_gitignore=not no_respect_gitignore)
    t_discover = time.perf_counter()
    cache = None
    if not no_cache and found.files:
        from schedlint.check.cache import ResultCache

        cache = ResultCache(cfg.root if cfg.path else Path.cwd(), codes,
                            extra=f"syntax={check_syntax}")
    split = {} if timings else None
    results = check_paths(found.files, codes, jobs=jobs, check_syntax_all=check_syntax,
                          cache=cache, stdin=stdin, timings=split)
    if not (no_cache or fix or diff or timings or use_stdin):
        from schedlint.check import replay

        replay.note_deps([d[0] for r in results for d in r.deps])
    outcomes = None
    if fix or diff:  # ruff semantics: --diff never writes
        outcomes = _apply_fixes(results, codes, cfg, unsafe_fixes, write=not diff, stdin=stdin,
                                cache=cache)
    t_check = time.perf_counter()
    if cache is not None:
        cache.save()
    t_saved = time.perf_counter()
    findings = [f for r in results for f in r.findings]
    if found.walked_directory:
        # Project rules (SL107) judge the whole tree: on a partial file list (pre-commit passes
        # only the staged files) a key read in an unlisted file would look unread.
        findings += run_project_rules(results, codes)
    t_project = time.perf_counter()
    if cfg.per_file_ignores:
        findings = [f for f in findings if f.code not in cfgmod.ignored_for(f.path, cfg)]
    findings = sort_findings(findings)
    if diff:
        sys.exit(_report_diff(outcomes, findings, quiet, unsafe_fixes, results))
    fixed = sum(o.fixed_total for o in outcomes) if outcomes is not None else None
    to_err = bool(fix and use_stdin)  # as ruff: the fixed source goes to stdout
    if to_err:
        done = next((o for o in outcomes if o.stdin), None)
        click.echo(done.fixed if done is not None else stdin[1], nl=False)
    if statistics:
        click.echo(stats_text(findings), nl=False, err=to_err)
    else:
        click.echo(format_findings(findings, output_format or "text", unsafe_fixes), nl=False,
                   err=to_err)
    if not quiet and (output_format in (None, "text") or statistics):
        click.echo(summary(findings, fixed=fixed, unsafe_fixes=unsafe_fixes), err=True)
    if list_files:
        for r in results:
            click.echo(f"checked: {r.path}", err=True)
    if timings:
        t_end = time.perf_counter()
        click.echo(f"timings: discover {t_discover - t0:.3f}s, check {t_check - t_discover:.3f}s"
                   f" ({len(found.files)} files, {sum(r.parsed for r in results)} parsed), "
                   f"report {t_end - t_check:.3f}s, total {t_end - t0:.3f}s", err=True)
        from schedlint.check.engine import PHASES

        split["cache"] = split.get("cache", 0.0) + t_saved - t_check
        click.echo("timings: split (CPU s, summed over %d worker%s): %s; cache %.3f, project "
                   "rules %.3f, output %.3f (wall s); %d cached, %d parsed" % (
                       split.get("workers", 1), "s" if split.get("workers", 1) != 1 else "",
                       ", ".join(f"{p} {split.get(p, 0.0):.3f}" for p in PHASES),
                       split.get("cache", 0.0), t_project - t_saved, t_end - t_project,
                       split.get("cached", 0), split.get("parsed", 0)), err=True)
    internal = any(f.code == "SL003" for f in findings) or any(r.crashed for r in results)
    if internal:
        sys.exit(EXIT_ERROR)
    if findings and not exit_zero:
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_CLEAN)


def _apply_fixes(results, codes, cfg, unsafe, *, write, stdin, cache):
    """``--fix`` / ``--diff``: fix each file with an applicable fix (see schedlint.check.fixes)."""
    from schedlint import config as cfgmod
    from schedlint.check.fixes import fix_results

    def codes_for(path):
        return codes - cfgmod.ignored_for(path, cfg) if cfg.per_file_ignores else codes

    outcomes = fix_results(results, codes_for, unsafe=unsafe, write=write, stdin=stdin)
    for o in outcomes:
        if not o.converged:
            click.echo(f"schedlint: warning: {o.path}: fixes did not converge; the file may "
                       f"still have fixable problems", err=True)
        if o.rejected:
            click.echo(f"schedlint: warning: {o.path}: skipped {o.rejected} fix(es) whose "
                       f"result would not parse (a schedlint bug; please report it)", err=True)
        if write and o.changed and cache is not None and not o.stdin:
            cache.put(o.path, o.result)
    return outcomes


def _report_diff(outcomes, findings, quiet, unsafe, results) -> int:
    """``--diff``: the diffs on stdout; exit 1 if there is one, 0 if not (2: internal error)."""
    from schedlint.report.formats import fixable

    text = "".join(o.diff() for o in outcomes)
    click.echo(text, nl=False)
    if not quiet:
        fixed = sum(o.fixed_total for o in outcomes)
        hidden = 0 if unsafe else sum(fixable(f, True) and not fixable(f) for f in findings)
        hint = (f" ({hidden} more with `--unsafe-fixes`)" if hidden else "")
        if fixed:
            click.echo(f"Would fix {fixed} problem{'s' if fixed != 1 else ''}{hint}.", err=True)
        else:
            click.echo(f"No problems would be fixed{hint}.", err=True)
    if any(f.code == "SL003" for f in findings) or any(r.crashed for r in results):
        return EXIT_ERROR
    return EXIT_FINDINGS if text else EXIT_CLEAN


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
            click.echo(json.dumps([{"code": r.code, "name": r.name, "summary": r.summary,
                                    "severity": r.severity, "kind": r.kind,
                                    "fix": r.fixable} for r in rules], indent=2))
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
        click.echo(json.dumps({"code": r.code, "name": r.name, "summary": r.summary,
                               "severity": r.severity, "kind": r.kind, "fix": r.fixable,
                               "docs": r.docs}, indent=2))
    else:
        click.echo(r.markdown(), nl=False)


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--plot", type=click.Path(dir_okay=False),
              help="Draw each group's actual and expected LR to this PNG (needs matplotlib).")
@click.argument("script", type=click.Path(dir_okay=False))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(plot, script, args):
    """Run SCRIPT with every optimizer and scheduler it creates guarded."""
    try:
        from schedlint.guard.runner import run_script
    except ImportError as exc:
        _fail(f"the runtime guard needs torch: pip install 'schedlint[guard]' ({exc})")
    sys.exit(run_script(script, list(args), plot=plot))


def entry():
    """Console-script entry: no traceback ever reaches the user."""
    try:
        main(prog_name="schedlint")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("schedlint: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug in schedlint itself
        if os.environ.get("SCHEDLINT_DEBUG"):
            raise
        click.echo(f"schedlint: internal error: {type(exc).__name__}: {exc} "
                   f"(set SCHEDLINT_DEBUG=1 for a traceback)", err=True)
        sys.exit(EXIT_ERROR)
