"""SL107 is a project rule: a key set in one file and read in another is fine."""

import textwrap

from schedlint.check.engine import check_paths, run_project_rules
from schedlint.check.options import Options

CODES = frozenset({"SL107"})

GROUPS = """\
import torch

def build(model, lr):
    groups = [
        {"params": model.backbone.parameters(), "lr_mult": 0.1},
        {"params": model.head.parameters()},
    ]
    return torch.optim.SGD(groups, lr=lr)
"""


def _run(tmp_path, files, jobs=1):
    paths = []
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
        paths.append(str(p))
    results = check_paths(sorted(paths), Options(codes=CODES, jobs=jobs))
    return [(f.path.rsplit("/", 1)[-1], f.line, f.code) for f in run_project_rules(results, CODES)]


def test_key_never_read_anywhere(tmp_path):
    found = _run(tmp_path, {"model.py": GROUPS, "train.py": "import torch\nopt = None\n"})
    assert found == [("model.py", 5, "SL107")]


def test_key_read_in_another_file(tmp_path):
    reader = """\
    def adjust_lr(optimizer, lr):
        for g in optimizer.param_groups:
            g["lr"] = lr * g.get("lr_mult", 1.0)
    """
    assert _run(tmp_path, {"model.py": GROUPS, "sched/adjust.py": reader}) == []


def test_reader_without_any_optimizer_mention(tmp_path):
    # the byte prefilter must still admit a file that only reads the key
    reader = "def apply(g, base):\n    return base * g['lr_mult']\n"
    assert _run(tmp_path, {"model.py": GROUPS, "util.py": reader}) == []


def test_key_named_in_a_field_list_counts_as_read(tmp_path):
    reader = """\
    SCALE_KEYS = ("lr_mult", "wd_mult")

    def apply(group, lr):
        for key in SCALE_KEYS:
            lr = lr * group.get(key, 1.0)
        return lr
    """
    assert _run(tmp_path, {"model.py": GROUPS, "scale.py": reader}) == []


def test_noqa_on_the_key_line(tmp_path):
    text = GROUPS.replace('"lr_mult": 0.1},', '"lr_mult": 0.1},  # noqa: SL107')
    assert _run(tmp_path, {"model.py": text}) == []


def test_many_files_in_a_process_pool(tmp_path):
    # enough files to use the pool: facts must cross process boundaries intact
    files = {f"pkg/m{i}.py": "import torch\nx = torch.optim\n" for i in range(40)}
    files["pkg/groups.py"] = GROUPS
    assert _run(tmp_path, files, jobs=2) == [("groups.py", 5, "SL107")]
    files["pkg/reader.py"] = "def f(g):\n    return 'lr_mult' in g\n"
    assert _run(tmp_path, files, jobs=2) == []


def test_cli_reports_project_finding(tmp_path, run_cli):
    (tmp_path / "model.py").write_text(GROUPS)
    result = run_cli("--isolated", "--no-cache", "--select", "SL107", str(tmp_path))
    assert result.exit_code == 1
    assert "model.py:5:" in result.output and "SL107" in result.output
    assert "`lr_mult`" in result.output
