"""``[tool.schedlint]``: discovery, validation (exit 2 naming the key), and what each key does."""

import pytest

from schedlint import config as cfgmod
from schedlint.rules import all_rules

OPTIMIZER = """import torch
from torch import optim

model = torch.nn.Linear(2, 2)
optimizer = optim.SGD(
    [{"params": model.weight, "lr": 0.1}, {"params": model.bias, "lr": 0.01}],
    momentum=0.9,
)
"""
BAD = OPTIMIZER + 'for g in optimizer.param_groups:\n    g["lr"] = 0.5\n'  # SL101 at 10:5
BROKEN = "import torch\nopt = torch.optim.SGD(\n"  # SL001 at 2:22
STATIC = frozenset(r.code for r in all_rules() if r.kind != "guard")


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def reported(result):
    """(path, code) pairs of a text-format run."""
    out = set()
    for line in result.stdout.splitlines():
        if line.startswith("  help: "):
            continue  # the help of the finding above
        where, _, rest = line.partition(": ")
        out.add((where.rsplit(":", 2)[0], rest.split(" ", 1)[0]))
    return out


# --- discovery -----------------------------------------------------------------------------


def test_nearest_pyproject_with_a_schedlint_table_wins(tmp_path):
    outer = write(tmp_path / "pyproject.toml", "[tool.schedlint]\nselect = ['SL0']\n")
    write(tmp_path / "pkg" / "pyproject.toml", "[project]\nname = 'pkg'\n")  # no table: skipped
    inner = write(tmp_path / "pkg" / "sub" / "pyproject.toml", "[tool.schedlint]\n")
    f = write(tmp_path / "pkg" / "sub" / "deep" / "x.py", "")
    assert cfgmod.find_pyproject(f) == inner.resolve()
    assert cfgmod.find_pyproject(tmp_path / "pkg" / "sub") == inner.resolve()
    assert cfgmod.find_pyproject(tmp_path / "pkg" / "y.py") == outer.resolve()
    assert cfgmod.find_pyproject(tmp_path / "pkg" / "not-there" / "z.py") == outer.resolve()


def test_no_config_means_defaults(tmp_path):
    found = cfgmod.find_pyproject(tmp_path / "x.py")
    assert found is None or tmp_path not in found.parents
    cfg = cfgmod.load_config(None)
    assert cfgmod.effective_codes(cfg) == STATIC
    for name in (
        ".git",
        ".venv",
        "venv",
        "__pycache__",
        "build",
        "dist",
        ".tox",
        "node_modules",
        "site-packages",
    ):
        assert name in cfg.excludes


def test_keys_are_read(tmp_path):
    path = write(
        tmp_path / "pyproject.toml",
        """
[tool.schedlint]
select = ["SL0", "SL101"]
ignore = ["SL002"]
extend-select = ["SL1"]
exclude = ["gen"]
extend-exclude = ["vendored"]
per-file-ignores = { "tests/*" = ["SL101"] }
""",
    )
    cfg = cfgmod.load_config(path)
    assert cfg.path == path and cfg.root == tmp_path
    assert cfg.select == ["SL0", "SL101"] and cfg.ignore == ["SL002"]
    assert cfg.extend_select == ["SL1"]
    assert cfg.excludes == ["gen", "vendored"]  # exclude replaces the defaults
    assert cfg.per_file_ignores == {"tests/*": ["SL101"]}
    default = cfgmod.load_config(
        write(
            tmp_path / "b" / "pyproject.toml", "[tool.schedlint]\nextend-exclude = ['vendored']\n"
        )
    )
    assert default.excludes == list(cfgmod.DEFAULT_EXCLUDES) + ["vendored"]


# --- validation ----------------------------------------------------------------------------

BAD_CONFIGS = [
    ("bogus = 1", ["'bogus'"]),
    ("extend_select = ['SL1']", ["'extend_select'", "extend-select"]),
    ("select = 'SL101'", ["'select'", "list"]),
    ("select = [101]", ["'select'"]),
    ("select = ['XX9']", ["'select'", "XX9"]),
    ("ignore = ['QQ1']", ["'ignore'", "QQ1"]),
    ("extend-select = ['ZZ7']", ["'extend-select'", "ZZ7"]),
    ("exclude = 'build'", ["'exclude'"]),
    ("extend-exclude = [3]", ["'extend-exclude'"]),
    ("per-file-ignores = ['tests']", ["'per-file-ignores'"]),
    ("per-file-ignores = { 'tests/*' = 'SL101' }", ["'per-file-ignores'", "tests/*"]),
    ("per-file-ignores = { 'tests/*' = ['NOPE1'] }", ["'per-file-ignores'", "NOPE1"]),
    ("select = [", ["invalid TOML"]),
]


@pytest.mark.parametrize(
    "typo, meant",
    [
        ("ignroe", "ignore"),
        ("selec", "select"),
        ("extend-exclud", "extend-exclude"),
        ("per_file_ignores", "per-file-ignores"),
    ],
)
def test_config_key_typo_gets_did_you_mean(tmp_path, typo, meant):
    path = write(tmp_path / "pyproject.toml", f"[tool.schedlint]\n{typo} = []\n")
    with pytest.raises(cfgmod.ConfigError) as exc:
        cfgmod.load_config(path)
    assert f"unknown key {typo!r} in [tool.schedlint] (did you mean {meant!r}?)" in str(exc.value)


@pytest.mark.parametrize("body, words", BAD_CONFIGS, ids=[b for b, _ in BAD_CONFIGS])
def test_bad_config_raises_naming_file_and_key(tmp_path, body, words):
    path = write(tmp_path / "pyproject.toml", f"[tool.schedlint]\n{body}\n")
    with pytest.raises(cfgmod.ConfigError) as exc:
        cfgmod.load_config(path)
    message = str(exc.value)
    assert str(path) in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("body, words", BAD_CONFIGS, ids=[b for b, _ in BAD_CONFIGS])
def test_bad_config_is_exit_2_without_traceback(run_cli, tmp_path, body, words):
    write(tmp_path / "pyproject.toml", f"[tool.schedlint]\n{body}\n")
    write(tmp_path / "bad.py", BAD)
    result = run_cli("bad.py")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("schedlint: error: ")
    for word in words:
        assert word in result.stderr


def test_schedlint_must_be_a_table(run_cli, tmp_path):
    write(tmp_path / "pyproject.toml", "[tool]\nschedlint = 3\n")
    write(tmp_path / "bad.py", BAD)
    result = run_cli("bad.py")
    assert result.exit_code == 2 and "[tool.schedlint]" in result.stderr


# --- effective selection -------------------------------------------------------------------


def test_effective_codes_precedence():
    cfg = cfgmod.Config(select=["SL0"], extend_select=["SL101"], ignore=["SL002"])
    assert cfgmod.effective_codes(cfg) == {"SL001", "SL003", "SL101"}
    # The command line's select replaces the config's select; the rest still applies.
    assert cfgmod.effective_codes(cfg, select=["SL003"]) == {"SL003", "SL101"}
    assert cfgmod.effective_codes(cfg, extend_select=["SL002"], ignore=["SL1"]) == {
        "SL001",
        "SL003",
    }
    assert cfgmod.effective_codes(cfgmod.Config(), select=["sl10"]) == {
        c for c in STATIC if c.startswith("SL10")
    }


def test_guard_codes_are_never_run_statically():
    guard = {r.code for r in all_rules() if r.kind == "guard"}
    assert not guard & cfgmod.effective_codes(cfgmod.Config(), select=["ALL"])


# --- per-file-ignores and globs ------------------------------------------------------------


@pytest.mark.parametrize(
    "path, pattern, expected",
    [
        ("tests/test_a.py", "tests/*", True),
        ("tests/sub/test_a.py", "tests", True),
        ("src/tests/test_a.py", "tests", True),
        ("a/b/conftest.py", "conftest.py", True),
        ("a/b/gen_x.py", "**/gen_*.py", True),
        ("gen_x.py", "**/gen_*.py", True),
        ("src/x.py", "tests/*", False),
        ("src/testsuite.py", "tests", False),
        ("src/x.py", "src/y.py", False),
    ],
)
def test_path_matches(tmp_path, path, pattern, expected):
    assert cfgmod.path_matches(str(tmp_path / path), pattern, tmp_path) is expected


# -- which configuration a file uses (issue 16: it came from the first path only) -----------
def test_each_file_uses_the_nearest_pyproject_above_it(run_cli, tmp_path, monkeypatch):
    write(tmp_path / "proj" / "pyproject.toml", "[tool.schedlint]\n")
    write(tmp_path / "proj" / "sub" / "pyproject.toml", "[tool.schedlint]\nignore = ['SL101']\n")
    write(tmp_path / "proj" / "sub" / "train.py", BAD)
    write(tmp_path / "proj" / "other" / "train.py", BAD)
    write(tmp_path / "elsewhere" / "pyproject.toml", "[tool.schedlint]\nselect = ['SL0']\n")
    write(tmp_path / "elsewhere" / "train.py", BAD)
    monkeypatch.chdir(tmp_path / "proj")
    # sub's ignore must not reach the other project, nor the other folder.
    result = run_cli("sub", "other/train.py", "../elsewhere/train.py", "--no-cache")
    assert reported(result) == {("other/train.py", "SL101")}
    # A walk applies the nested pyproject.toml to its own subtree only.
    walked = run_cli(".", "--no-cache")
    assert reported(walked) == {("other/train.py", "SL101")}
    assert walked.exit_code == 1


def test_config_option_overrides_every_pyproject(run_cli, tmp_path):
    write(tmp_path / "sub" / "pyproject.toml", "[tool.schedlint]\nignore = ['SL101']\n")
    write(tmp_path / "sub" / "train.py", BAD)
    write(tmp_path / "other.toml", "select = ['SL1']\n")
    result = run_cli("--config", "other.toml", "sub", "--no-cache")
    assert reported(result) == {("sub/train.py", "SL101")}
    assert run_cli("--isolated", "sub", "--no-cache").exit_code == 1


def test_per_file_ignores_of_a_nested_config_are_relative_to_it(run_cli, tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.schedlint]\n")
    write(
        tmp_path / "pkg" / "pyproject.toml",
        "[tool.schedlint]\nper-file-ignores = { 'legacy/*' = ['SL101'] }\n",
    )
    write(tmp_path / "pkg" / "legacy" / "old.py", BAD)
    write(tmp_path / "pkg" / "new.py", BAD)
    result = run_cli("pkg/legacy/old.py", "pkg/new.py", "--no-cache")
    assert reported(result) == {("pkg/new.py", "SL101")}


def test_per_file_ignores_suppress_only_matching_files(run_cli, tmp_path):
    write(
        tmp_path / "pyproject.toml",
        '[tool.schedlint]\nper-file-ignores = { "legacy/*" = ["SL1"], "x.py" = ["SL001"] }\n',
    )
    write(tmp_path / "legacy" / "old.py", BAD)
    write(tmp_path / "src" / "new.py", BAD)
    write(tmp_path / "src" / "x.py", BROKEN)
    result = run_cli("--select", "SL0,SL101", ".")
    assert result.exit_code == 1
    assert reported(result) == {("src/new.py", "SL101")}


def test_per_file_ignores_glob_matching_nothing_is_exit_2(run_cli, tmp_path):
    write(
        tmp_path / "pyproject.toml",
        '[tool.schedlint]\nper-file-ignores = { "tset/*" = ["SL101"] }\n',
    )
    write(tmp_path / "tests" / "a.py", BAD)
    result = run_cli(".")
    assert result.exit_code == 2
    assert "per-file-ignores" in result.stderr and "tset/*" in result.stderr
    assert "Traceback" not in result.stderr


# --- select / ignore / exclude from the config ---------------------------------------------


def test_config_selection_and_command_line_override(run_cli, tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.schedlint]\nselect = ['SL0']\n")
    write(tmp_path / "bad.py", BAD)
    write(tmp_path / "broken.py", BROKEN)
    assert reported(run_cli(".")) == {("broken.py", "SL001")}
    assert reported(run_cli("--select", "SL101", ".")) == {("bad.py", "SL101")}
    assert reported(run_cli("--extend-select", "SL101", ".")) == {
        ("broken.py", "SL001"),
        ("bad.py", "SL101"),
    }
    write(tmp_path / "pyproject.toml", "[tool.schedlint]\nignore = ['SL1']\n")
    assert reported(run_cli("--select", "SL0,SL101", ".")) == {("broken.py", "SL001")}


def test_config_is_searched_upward_from_the_first_path(run_cli, tmp_path, monkeypatch):
    write(tmp_path / "proj" / "pyproject.toml", "[tool.schedlint]\nignore = ['SL101']\n")
    write(tmp_path / "proj" / "src" / "bad.py", BAD)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run_cli("--select", "SL0,SL101", "../proj/src/bad.py")
    assert (result.exit_code, result.stdout) == (0, "")
    assert run_cli("--select", "SL0,SL101", "--isolated", "../proj/src/bad.py").exit_code == 1


def test_exclude_and_extend_exclude_apply_when_walking(run_cli, tmp_path):
    write(
        tmp_path / "pyproject.toml",
        "[tool.schedlint]\nextend-exclude = ['generated', 'src/old_*.py']\n",
    )
    write(tmp_path / "generated" / "a.py", BAD)
    write(tmp_path / "src" / "old_a.py", BAD)
    write(tmp_path / "src" / "new.py", BAD)
    write(tmp_path / "build" / "b.py", BAD)  # a default exclude, still in force
    assert reported(run_cli("--select", "SL101", ".")) == {("src/new.py", "SL101")}
    write(tmp_path / "pyproject.toml", "[tool.schedlint]\nexclude = ['generated']\n")
    assert reported(run_cli("--select", "SL101", ".")) == {
        ("src/new.py", "SL101"),
        ("src/old_a.py", "SL101"),
        ("build/b.py", "SL101"),
    }


def test_isolated_ignores_every_config_file(run_cli, tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.schedlint]\nbogus = true\n")
    write(tmp_path / "bad.py", BAD)
    assert run_cli("bad.py").exit_code == 2
    result = run_cli("--isolated", "--select", "SL101", "bad.py")
    assert result.exit_code == 1 and reported(result) == {("bad.py", "SL101")}


def test_config_file_option(run_cli, tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.schedlint]\nselect = ['SL0']\n")
    write(tmp_path / "bad.py", BAD)
    write(tmp_path / "broken.py", BROKEN)
    # A plain toml file holds the keys at top level ...
    write(tmp_path / "conf" / "schedlint.toml", "select = ['SL101']\n")
    result = run_cli("--config", "conf/schedlint.toml", ".")
    assert reported(result) == {("bad.py", "SL101")}
    # ... a pyproject.toml given explicitly is read from its [tool.schedlint] table.
    write(tmp_path / "conf" / "pyproject.toml", "[tool.schedlint]\nselect = ['SL001', 'SL101']\n")
    result = run_cli("--config", "conf/pyproject.toml", ".")
    assert reported(result) == {("bad.py", "SL101"), ("broken.py", "SL001")}
    # Errors in it, or a file that is not there, are exit 2 naming it.
    write(tmp_path / "conf" / "broken.toml", "selct = ['SL101']\n")
    bad = run_cli("--config", "conf/broken.toml", ".")
    assert bad.exit_code == 2 and "'selct'" in bad.stderr and "broken.toml" in bad.stderr
    missing = run_cli("--config", "conf/nope.toml", ".")
    assert missing.exit_code == 2 and "nope.toml" in missing.stderr
    assert "Traceback" not in bad.stderr + missing.stderr
