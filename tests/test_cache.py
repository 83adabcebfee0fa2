"""The per-file result cache under ``.schedlint_cache/`` (issue 5's promises on top of issue 2's
engine): a warm run reuses results, a content change invalidates, each selection has its own
cache, a corrupt cache is ignored, concurrent writers never leave a torn file, ``--no-cache``.

Reuse is observed, never timed: a spy on the engine's per-file pipeline records which files were
really checked, and a doctored cache entry shows that its findings are what gets printed.
"""

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

import schedlint.check.engine as engine
import schedlint.check.pool as pool
from schedlint.check.cache import CACHE_DIR_NAME
from schedlint.check.options import Options

OPTIMIZER = """import torch
from torch import optim

model = torch.nn.Linear(2, 2)
optimizer = optim.SGD(
    [{"params": model.weight, "lr": 0.1}, {"params": model.bias, "lr": 0.01}],
    momentum=0.9,
)
"""
BAD = OPTIMIZER + 'for g in optimizer.param_groups:\n    g["lr"] = 0.5\n'  # SL101 at 10:5
GOOD = OPTIMIZER + 'for g in optimizer.param_groups:\n    g["lr"] = g["lr"] * 0.5\n'
SELECT = ("--select", "SL0,SL101")


@pytest.fixture
def proj(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.schedlint]\n")
    (tmp_path / "a.py").write_text(BAD)
    (tmp_path / "b.py").write_text(GOOD)
    (tmp_path / "c.py").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def checked(monkeypatch):
    """The paths the pipeline really checks (a cache hit never reaches check_file)."""
    calls = []
    real = pool.check_file

    def spy(path, options, **kwargs):
        calls.append(path)
        return real(path, options, **kwargs)

    monkeypatch.setattr(pool, "check_file", spy)
    return calls


def cache_files(root: Path):
    return sorted((root / CACHE_DIR_NAME).rglob("results-*.json"))


def lines(result):
    """The locations of the findings (help lines, indented, belong to the finding above)."""
    return [
        line.split(": ", 1)[0]
        for line in result.stdout.splitlines()
        if not line.startswith("  help: ")
    ]


def test_warm_run_reuses_every_result(run_cli, proj, checked):
    cold = run_cli(*SELECT, ".")
    assert sorted(checked) == ["a.py", "b.py", "c.py"]
    assert len(cache_files(proj)) == 1
    checked.clear()
    warm = run_cli(*SELECT, ".")
    assert checked == []
    assert (
        (warm.exit_code, warm.stdout)
        == (cold.exit_code, cold.stdout)
        == (
            1,
            "".join(
                f"{p}:10:5: SL101 "
                + cold.stdout.splitlines()[0].split(" SL101 ", 1)[1]
                + "\n"
                + cold.stdout.splitlines()[1]
                + "\n"
                for p in ("a.py", "c.py")
            ),
        )
    )


# The command line in a process of its own, then what it imported of the parsing side.
_IMPORTS_OF_A_RUN = """
import sys
from schedlint.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
parsing = ("libcst", "schedlint.check.pipeline", "schedlint.check.pool", "schedlint.model.builder")
print(sorted(m for m in parsing if m in sys.modules))
"""


def test_a_warm_run_imports_nothing_that_parses(proj):
    """A run the cache answers whole needs none of the parser, the pipeline or the model, and
    loads none of them (importing libcst alone takes longer than a warm run of timm)."""

    def imported():
        result = subprocess.run(
            [sys.executable, "-c", _IMPORTS_OF_A_RUN, *SELECT, "-q", "."],
            cwd=proj,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return result.stdout.strip().splitlines()[-1]

    cold = imported()
    assert (
        cold
        == "['libcst', 'schedlint.check.pipeline', 'schedlint.check.pool', 'schedlint.model.builder']"
    )
    assert imported() == "[]"


def test_printed_findings_come_from_the_cache(run_cli, proj):
    run_cli(*SELECT, ".")
    (path,) = cache_files(proj)
    data = json.loads(path.read_text())
    entry = data[str(proj / "a.py")]
    assert [f["code"] for f in entry["findings"]] == ["SL101"]
    entry["findings"][0]["message"] = "served from the cache"
    path.write_text(json.dumps(data))
    warm = run_cli(*SELECT, ".")
    assert "a.py:10:5: SL101 served from the cache" in warm.stdout
    fresh = run_cli(*SELECT, "--no-cache", ".")
    assert "served from the cache" not in fresh.stdout and "a.py:10:5: SL101" in fresh.stdout


def test_touching_a_file_without_changing_it_still_hits(run_cli, proj, checked):
    run_cli(*SELECT, ".")
    checked.clear()
    st = os.stat(proj / "a.py")
    os.utime(proj / "a.py", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert lines(run_cli(*SELECT, ".")) == ["a.py:10:5", "c.py:10:5"]
    assert checked == []


def test_content_change_invalidates_that_file_only(run_cli, proj, checked):
    run_cli(*SELECT, ".")
    checked.clear()
    (proj / "a.py").write_text(GOOD)
    assert lines(run_cli(*SELECT, ".")) == ["c.py:10:5"]
    assert checked == ["a.py"]
    # Same size, new content (and a new mtime): re-checked, new message.
    checked.clear()
    st = os.stat(proj / "c.py")
    (proj / "c.py").write_text(BAD.replace("0.5", "0.7"))
    os.utime(proj / "c.py", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    result = run_cli(*SELECT, ".")
    assert checked == ["c.py"]
    assert "one scalar lr `0.7`" in result.stdout and "`0.5`" not in result.stdout


def test_each_selection_has_its_own_cache(run_cli, proj, checked):
    sl101 = run_cli("--select", "SL101", ".")
    assert len(checked) == 3
    checked.clear()
    sl0 = run_cli("--select", "SL0", ".")
    assert len(checked) == 3, "a different selection must not reuse SL101's results"
    assert (sl0.exit_code, sl0.stdout) == (0, "")
    checked.clear()
    again = run_cli("--select", "SL101", ".")
    assert checked == [] and again.stdout == sl101.stdout
    run_cli("--select", "SL101", "--check-syntax", ".")
    assert len(checked) == 3  # --check-syntax changes what is checked: its own cache too
    assert len(cache_files(proj)) == 3


@pytest.mark.parametrize(
    "content", [b"", b"{not json", b"\x00\xff\xfe", b"[1, 2, 3]", b"null", b'{"x": 1}']
)
def test_corrupt_cache_file_is_ignored(run_cli, proj, checked, content):
    fresh = run_cli(*SELECT, ".")
    (path,) = cache_files(proj)
    path.write_bytes(content)
    checked.clear()
    result = run_cli(*SELECT, ".")
    assert (result.exit_code, result.stdout) == (fresh.exit_code, fresh.stdout)
    assert sorted(checked) == ["a.py", "b.py", "c.py"]
    assert set(json.loads(path.read_text())) >= {str(proj / n) for n in ("a.py", "b.py", "c.py")}


@pytest.mark.parametrize(
    "damage",
    [
        lambda e: e.update(findings="nope"),
        lambda e: e.update(findings=[{"code": "SL101"}]),
        lambda e: e.update(findings=[42]),
        lambda e: e.update(facts="nope"),
        lambda e: e.update(sha=None, size=-1),
        lambda e: e.clear(),
    ],
)
def test_corrupt_cache_entry_is_ignored(run_cli, proj, checked, damage):
    fresh = run_cli(*SELECT, ".")
    (path,) = cache_files(proj)
    data = json.loads(path.read_text())
    damage(data[str(proj / "a.py")])
    path.write_text(json.dumps(data))
    checked.clear()
    result = run_cli(*SELECT, ".")
    assert (result.exit_code, result.stdout) == (fresh.exit_code, fresh.stdout)
    assert "a.py" in checked


def test_unwritable_cache_location_is_not_fatal(run_cli, proj):
    (proj / CACHE_DIR_NAME).write_text("a file where the cache folder would go")
    for _ in range(2):
        result = run_cli(*SELECT, ".")
        assert lines(result) == ["a.py:10:5", "c.py:10:5"]


def test_no_cache_neither_reads_nor_writes(run_cli, proj, checked):
    result = run_cli(*SELECT, "--no-cache", ".")
    assert lines(result) == ["a.py:10:5", "c.py:10:5"]
    assert not (proj / CACHE_DIR_NAME).exists()
    run_cli(*SELECT, ".")
    checked.clear()
    run_cli(*SELECT, "--no-cache", ".")
    assert sorted(checked) == ["a.py", "b.py", "c.py"]


def test_cache_folder_ignores_itself_for_git(run_cli, proj):
    run_cli(*SELECT, ".")
    assert (proj / CACHE_DIR_NAME / ".gitignore").read_text().splitlines()[-1] == "*"


def test_unreadable_results_are_not_cached(run_cli, proj, checked):
    os.symlink("gone.py", proj / "missing.py")  # named but unreadable: SL002
    for _ in range(2):
        checked.clear()
        result = run_cli(*SELECT, "a.py", "missing.py")
        assert lines(result) == ["a.py:10:5", "missing.py:1:1"]
    assert checked == ["missing.py"]


def _writer(root, names, rounds):
    from schedlint.check.cache import ResultCache

    options = Options(codes=frozenset({"SL001", "SL002", "SL003", "SL101"}))
    results = [engine.check_source(str(root / n), None, options.codes) for n in names]
    for _ in range(rounds):
        cache = ResultCache(root, options)
        for r in results:
            cache.put(r)
        cache.save()


def test_concurrent_writers_never_leave_a_torn_file(run_cli, proj):
    names = [f"f{i}.py" for i in range(12)]
    for i, n in enumerate(names):
        (proj / n).write_text(BAD if i % 2 else GOOD)
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_writer, args=(proj, names[i::4], 25)) for i in range(4)]
    for w in writers:
        w.start()
    reads = 0
    while any(w.is_alive() for w in writers):
        for path in cache_files(proj):
            try:
                text = path.read_bytes()
            except FileNotFoundError:
                continue
            json.loads(text)  # a torn (partially written) file raises here
            reads += 1
    for w in writers:
        w.join()
        assert w.exitcode == 0
    (path,) = cache_files(proj)
    data = json.loads(path.read_text())
    assert set(data) <= {str(proj / n) for n in names}
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp-")]
    # Whatever survived the races, a run on top of it is right.
    result = run_cli(*SELECT, *names)
    assert lines(result) == sorted(f"{n}:10:5" for i, n in enumerate(names) if i % 2)


# --- sound by construction (issue 11) ---------------------------------------------------------


def _entry(proj, name="a.py"):
    (path,) = cache_files(proj)
    return path, json.loads(path.read_text())


@pytest.mark.parametrize(
    "damage",
    [
        None,
        [],
        "x",
        42,
        1.5,
        True,
        {},
        {"sha": None},
        "same-sha-wrong-types",
        "same-sha-bad-fix",
        "same-sha-bad-facts",
    ],
)
def test_a_foreign_entry_of_any_shape_is_ignored_and_rewritten(run_cli, proj, checked, damage):
    fresh = run_cli(*SELECT, ".")
    path, data = _entry(proj)
    key = str(proj / "a.py")
    good = data[key]
    if damage == "same-sha-wrong-types":
        damage = {**good, "findings": [{**good["findings"][0], "line": "10"}]}
    elif damage == "same-sha-bad-fix":
        damage = {**good, "findings": [{**good["findings"][0], "fix": "nope"}]}
    elif damage == "same-sha-bad-facts":
        damage = {**good, "facts": {"group_keys": [[1, 2]], "read_keys": []}}
    data[key] = damage
    path.write_text(json.dumps(data))
    checked.clear()
    result = run_cli(*SELECT, ".")
    assert (result.exit_code, result.stdout) == (fresh.exit_code, fresh.stdout)
    assert checked == ["a.py"]
    assert _entry(proj)[1][key] == good  # rewritten


def test_a_truncated_cache_file_is_ignored_and_rewritten(run_cli, proj, checked):
    fresh = run_cli(*SELECT, ".")
    path, _ = _entry(proj)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    checked.clear()
    result = run_cli(*SELECT, ".")
    assert (result.exit_code, result.stdout) == (fresh.exit_code, fresh.stdout)
    assert sorted(checked) == ["a.py", "b.py", "c.py"]
    assert set(json.loads(path.read_text())) == {str(proj / n) for n in ("a.py", "b.py", "c.py")}


def test_new_content_with_the_same_size_and_mtime_is_checked_again(run_cli, proj, checked):
    """`touch -r`: an edit that keeps size and modification time is still seen (the key is
    the content, never the stat)."""
    first = run_cli(*SELECT, ".")
    assert "a.py:10:5: SL101" in first.stdout
    (proj / "ref").write_bytes((proj / "a.py").read_bytes())
    subprocess.run(["touch", "-r", str(proj / "a.py"), str(proj / "ref")], check=True)
    (proj / "a.py").write_text(BAD.replace("0.5", "0.7"))  # same size
    subprocess.run(["touch", "-r", str(proj / "ref"), str(proj / "a.py")], check=True)
    st, ref = os.stat(proj / "a.py"), os.stat(proj / "ref")
    assert (st.st_size, st.st_mtime_ns) == (ref.st_size, ref.st_mtime_ns)
    checked.clear()
    result = run_cli(*SELECT, ".")
    assert checked == ["a.py"]
    assert "one scalar lr `0.7`" in result.stdout and "`0.5`" not in result.stdout.split("c.py")[0]


@pytest.mark.parametrize("change", ["python", "libcst", "schedlint source"])
def test_the_interpreter_libcst_and_schedlint_itself_are_in_the_key(
    run_cli, proj, checked, monkeypatch, change
):
    """One checkout used by Python 3.11 and then 3.12 printed a stale SL001 (PEP 695 code
    parses on 3.12 only): a result is reused only by the same interpreter, libcst and
    schedlint code."""
    import types

    import schedlint.check.cache as cache

    run_cli(*SELECT, ".")
    checked.clear()
    run_cli(*SELECT, ".")
    assert checked == []
    if change == "python":
        monkeypatch.setattr(cache, "sys", types.SimpleNamespace(version_info=(3, 99, 0)))
    elif change == "libcst":
        monkeypatch.setattr(cache, "libcst_version", lambda: "0.0.1")
    else:
        monkeypatch.setattr(cache, "code_digest", lambda: "edited")
    run_cli(*SELECT, ".")
    assert sorted(checked) == ["a.py", "b.py", "c.py"]
    assert len(cache_files(proj)) == 2


def test_the_settings_are_in_the_key(run_cli, proj, checked):
    run_cli(*SELECT, ".")
    (proj / "pyproject.toml").write_text(
        '[tool.schedlint]\nper-file-ignores = {"a.py" = ["SL101"]}\n'
    )
    checked.clear()
    result = run_cli(*SELECT, ".")
    assert sorted(checked) == ["a.py", "b.py", "c.py"]
    assert lines(result) == ["c.py:10:5"]


def test_the_dependency_digest_is_part_of_an_entry_key(proj):
    """The seam for cross-module summaries: an entry stored under one dependency digest is
    not used under another."""
    from schedlint.check.cache import ResultCache

    options = Options(codes=frozenset({"SL001", "SL002", "SL003", "SL101"}))
    data = (proj / "a.py").read_bytes()
    result = engine.check_source(str(proj / "a.py"), data, options.codes)
    cache = ResultCache(proj, options)
    cache.put(result, dependency_digest="imports-v1")
    cache.save()
    again = ResultCache(proj, options)
    assert again.get(str(proj / "a.py"), data, dependency_digest="imports-v1") is not None
    assert again.get(str(proj / "a.py"), data, dependency_digest="imports-v2") is None
    assert again.get(str(proj / "a.py"), data) is None


@pytest.mark.parametrize("content", [b"", b"garbage\n"])
def test_a_damaged_gitignore_is_repaired(run_cli, proj, content):
    run_cli(*SELECT, ".")
    gitignore = proj / CACHE_DIR_NAME / ".gitignore"
    gitignore.write_bytes(content)  # e.g. a write that failed half-way
    (proj / "a.py").write_text(GOOD)  # something to save
    run_cli(*SELECT, ".")
    assert gitignore.read_text().splitlines()[-1] == "*"
    assert not [p for p in gitignore.parent.iterdir() if p.name.startswith(".tmp-")]


def test_a_nested_config_keys_the_results_of_its_own_files(run_cli, proj, checked):
    # Each file uses the nearest pyproject.toml above it (issue 16), so the cached result of a
    # file must depend on that configuration: changing sub's config rechecks sub's file only.
    (proj / "sub").mkdir()
    (proj / "sub" / "pyproject.toml").write_text("[tool.schedlint]\n")
    (proj / "sub" / "d.py").write_text(BAD)
    cold = run_cli(".")
    assert "sub/d.py:10:5: SL101" in cold.stdout and sorted(checked) == [
        "a.py",
        "b.py",
        "c.py",
        "sub/d.py",
    ]
    checked.clear()
    (proj / "sub" / "pyproject.toml").write_text("[tool.schedlint]\nignore = ['SL101']\n")
    warm = run_cli(".")
    assert checked == ["sub/d.py"], "only the file whose configuration changed is rechecked"
    assert "sub/d.py" not in warm.stdout and "a.py:10:5: SL101" in warm.stdout
    checked.clear()
    again = run_cli(".")
    assert checked == [] and again.stdout == warm.stdout


HELPER = """def set_lr(optimizer, lr):
    for g in optimizer.param_groups:
        g["lr"] = lr
"""
CALLER = OPTIMIZER + "import helpers\nhelpers.set_lr(optimizer, 0.5)\n"  # SL101 at 10:1


def test_changing_an_imported_helper_rechecks_its_callers(run_cli, proj, checked):
    # pre-commit names only the caller: the helper is read for its summary, and its change
    # must invalidate the caller's cached result (found stale before the fix)
    (proj / "helpers.py").write_text(HELPER)
    (proj / "train.py").write_text(CALLER)
    assert lines(run_cli(*SELECT, "train.py")) == ["train.py:10:1"]
    checked.clear()
    assert lines(run_cli(*SELECT, "train.py")) == ["train.py:10:1"]
    assert checked == []
    (proj / "helpers.py").write_text(HELPER.replace("= lr", '= g["lr"] * lr'))
    assert lines(run_cli(*SELECT, "train.py")) == []
    assert checked == ["train.py"]


FACTORY_USER = """from optim_factory import create_optimizer, set_lr


def main(model, epochs, base_lr=1e-4):
    opt = create_optimizer(model, base_lr)
    for epoch in range(epochs):
        set_lr(opt, base_lr * 0.5 ** epoch)
"""
FACTORY_STUB = """def create_optimizer(model, base_lr):
    raise NotImplementedError


def set_lr(optimizer, lr):
    raise NotImplementedError
"""
FACTORY = """from torch import optim


def create_optimizer(model, base_lr):
    return optim.AdamW([{"params": model.encoder.parameters(), "lr": base_lr},
                        {"params": model.head.parameters(), "lr": base_lr * 10}])


def set_lr(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr
"""


def test_a_file_the_gate_judged_through_a_helper_is_judged_again_when_it_changes(
    run_cli, proj, checked
):
    # main.py never names torch's API: the gate admits it only through its helper module,
    # so the helper's change must reach main.py's cached (skipped) result too
    (proj / "optim_factory.py").write_text(FACTORY_STUB)
    (proj / "main.py").write_text(FACTORY_USER)
    assert lines(run_cli(*SELECT, "main.py")) == []
    checked.clear()
    assert lines(run_cli(*SELECT, "main.py")) == []
    assert checked == []
    (proj / "optim_factory.py").write_text(FACTORY)
    assert lines(run_cli(*SELECT, "main.py")) == ["main.py:7:9"]
    assert checked == ["main.py"]


def test_a_helper_that_did_not_parse_is_read_again_once_fixed(run_cli, proj, checked):
    # the helper lent no summary while broken, but the caller's result still depended on it
    (proj / "helpers.py").write_text(
        HELPER.replace("def set_lr(optimizer, lr):", "def set_lr(optimizer, lr)")
    )
    (proj / "train.py").write_text(CALLER)
    assert lines(run_cli(*SELECT, "train.py")) == []
    (proj / "helpers.py").write_text(HELPER)
    checked.clear()
    assert lines(run_cli(*SELECT, "train.py")) == ["train.py:10:1"]
    assert checked == ["train.py"]


TRAINER = """class Trainer:
    def __init__(self, model, optimizer, lr_scheduler):
        self.model, self.optimizer, self.lr_scheduler = model, optimizer, lr_scheduler

    def train_epoch(self):
        self.optimizer.step()
        self.lr_scheduler.step()
"""
TRAIN_SCRIPT = """import torch

from trainer import Trainer


def main(model):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.{cls}(optimizer)
    Trainer(model, optimizer, scheduler).train_epoch()
"""


def test_a_class_is_checked_again_when_a_module_calling_it_changes_or_appears(
    run_cli, proj, checked
):
    # trainer.py's finding depends on what the scripts calling Trainer(...) hand it: a
    # changed or a new caller must re-check trainer.py, named alone as pre-commit does
    (proj / "trainer.py").write_text(TRAINER)
    (proj / "train.py").write_text(TRAIN_SCRIPT.format(cls="StepLR"))
    select = ("--select", "SL205")
    assert lines(run_cli(*select, "trainer.py")) == []
    checked.clear()
    assert lines(run_cli(*select, "trainer.py")) == []
    assert checked == []
    (proj / "train.py").write_text(TRAIN_SCRIPT.format(cls="ReduceLROnPlateau"))
    assert lines(run_cli(*select, "trainer.py")) == ["trainer.py:7:9"]
    assert checked == ["trainer.py"]
    (proj / "train.py").write_text(TRAIN_SCRIPT.format(cls="StepLR"))
    assert lines(run_cli(*select, "trainer.py")) == []
    (proj / "finetune.py").write_text(TRAIN_SCRIPT.format(cls="ReduceLROnPlateau"))
    checked.clear()
    assert lines(run_cli(*select, "trainer.py")) == ["trainer.py:7:9"]
    assert checked == ["trainer.py"]


TRAINER_FACTORY = """from trainer import Trainer


def build_trainer(model, optimizer, lr_scheduler):
    return Trainer(model, optimizer, lr_scheduler)
"""
FACTORY_SCRIPT = """import torch

from trainer_factory import build_trainer


def main(model):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.{cls}(optimizer)
    build_trainer(model, optimizer, scheduler).train_epoch()
"""


def test_a_class_is_checked_again_when_the_script_calling_its_factory_changes(
    run_cli, proj, checked
):
    # trainer_factory.py forwards what train.py hands build_trainer(...) to Trainer(...):
    # trainer.py's result depends on train.py too, one level past its direct caller
    (proj / "trainer.py").write_text(TRAINER)
    (proj / "trainer_factory.py").write_text(TRAINER_FACTORY)
    (proj / "train.py").write_text(FACTORY_SCRIPT.format(cls="StepLR"))
    select = ("--select", "SL205")
    assert lines(run_cli(*select, "trainer.py")) == []
    checked.clear()
    assert lines(run_cli(*select, "trainer.py")) == []
    assert checked == []
    (proj / "train.py").write_text(FACTORY_SCRIPT.format(cls="ReduceLROnPlateau"))
    assert lines(run_cli(*select, "trainer.py")) == ["trainer.py:7:9"]
    assert checked == ["trainer.py"]


_WARM_RUN = """
import sys
from schedlint.cli import main
try:
    main(["check", "--select", "SL0,SL101", "-q", "--exit-zero", "."])
except SystemExit:
    pass
print(sorted(m for m in ("libcst", "importlib.metadata") if m in sys.modules), file=sys.stderr)
"""


def test_a_warm_run_imports_neither_libcst_nor_package_metadata(proj):
    # A warm run parses nothing: libcst's version for the cache key comes from its
    # _version.py, not from importing it or reading the installed distributions' metadata.
    import sys

    def run():
        out = subprocess.run(
            [sys.executable, "-c", _WARM_RUN], cwd=proj, capture_output=True, text=True
        )
        return out.stderr.strip().splitlines()[-1]

    run()  # cold: fills the cache
    assert run() == "[]"


def test_a_warm_run_does_not_import_the_file_model(proj):
    # Cached results carry FileFacts for the project rules; rebuilding them must not import
    # schedlint.model.facts, whose dataclasses cost about 8 ms (a tenth of a warm run).
    import sys

    script = _WARM_RUN.replace('("libcst", "importlib.metadata")', '("schedlint.model.facts",)')

    def run():
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=proj, capture_output=True, text=True
        )
        return out.stderr.strip().splitlines()[-1]

    run()  # cold: fills the cache
    assert run() == "[]"


def test_the_libcst_version_in_the_key_is_the_installed_one():
    from importlib import metadata

    from schedlint.check import cache

    assert cache.libcst_version() == metadata.version("libcst")


def test_a_warm_run_reads_a_checked_helper_once(run_cli, proj, monkeypatch):
    # helpers.py is both checked and a dependency of train.py's result: the warm run hashes
    # the bytes it read to check it, instead of reading the file a second time.
    import schedlint.check.cache as cache_module

    (proj / "helpers.py").write_text(HELPER)
    (proj / "train.py").write_text(CALLER)
    first = lines(run_cli(*SELECT, "helpers.py", "train.py"))
    reads = []
    for module in (engine, cache_module):
        real = module.read_bytes
        monkeypatch.setattr(
            module, "read_bytes", lambda p, real=real: reads.append(os.path.basename(p)) or real(p)
        )
    assert lines(run_cli(*SELECT, "helpers.py", "train.py")) == first
    assert sorted(reads) == ["helpers.py", "train.py"]


SHARED_LOOP = """import torch


class BaseTrainer:
    def __init__(self, model, loader):
        self.model, self.loader = model, loader
        self.optimizer, self.scheduler = self.configure_optimizers()

    def configure_optimizers(self):
        raise NotImplementedError

    def fit(self):
        for batch in self.loader:
            self.model(batch).backward()
            self.scheduler.step()
            self.optimizer.step()
"""
TASK = """import torch

from engine.base import BaseTrainer


class Classifier(BaseTrainer):
    def configure_optimizers(self):
        opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
        return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=30)
"""


def test_a_new_package_deriving_from_a_base_rechecks_the_base(run_cli, proj, checked):
    # The base builds nothing and is rejected until a task package next to its own derives
    # from it; a package added later must re-check the base's cached result.
    (proj / "engine").mkdir()
    (proj / "engine" / "__init__.py").write_text("")
    (proj / "engine" / "base.py").write_text(SHARED_LOOP)
    assert lines(run_cli("--select", "SL203", "engine/base.py")) == []
    checked.clear()
    (proj / "tasks").mkdir()
    (proj / "tasks" / "__init__.py").write_text("")
    (proj / "tasks" / "classify.py").write_text(TASK)
    assert lines(run_cli("--select", "SL203", "engine/base.py")) == ["engine/base.py:15:13"]
    assert checked == ["engine/base.py"]
