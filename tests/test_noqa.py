"""``# noqa`` suppression, as ruff reads it, plus the multi-line statement rule of issue 2."""

import pytest

from schedlint.check.engine import check_source
from schedlint.check.noqa import directive

OPTIMIZER = """import torch
from torch import optim

model = torch.nn.Linear(2, 2)
optimizer = optim.SGD(
    [{"params": model.weight, "lr": 0.1}, {"params": model.bias, "lr": 0.01}],
    momentum=0.9,
)
"""  # 8 lines; the code under test starts on line 9
CODES = frozenset({"SL001", "SL002", "SL003", "SL101"})


def sl101_lines(tmp_path, body: str) -> list:
    path = tmp_path / "train.py"
    path.write_text(OPTIMIZER + body)
    result = check_source(str(path), None, CODES)
    assert all(f.code == "SL101" for f in result.findings), result.findings
    return sorted(f.line - 8 for f in result.findings)  # relative to the body


@pytest.mark.parametrize(
    "line, expected",
    [
        ("x = 1", None),
        ("x = 1  # a comment", None),
        ("x = 1  # noqa", "all"),
        ("x = 1  #noqa", "all"),
        ("x = 1  # NOQA", "all"),
        ("x = 1  # noqa: SL101", {"SL101"}),
        ("x = 1  # noqa:SL101", {"SL101"}),
        ("x = 1  # noqa: SL101, SL2", {"SL101", "SL2"}),
        ("x = 1  # noqa: SL101,SL102 SL103", {"SL101", "SL102", "SL103"}),
        ("x = 1  # noqa: sl101", {"SL101"}),
        ("x = 1  # type: ignore  # noqa: SL101", {"SL101"}),
    ],
)
def test_directive(line, expected):
    assert directive(line) == expected


@pytest.mark.parametrize(
    "comment, suppressed",
    [
        ("", False),
        ("  # noqa", True),
        ("  # noqa: SL101", True),
        ("  # NOQA: sl101", True),
        ("  # noqa: SL102, SL101", True),
        ("  # noqa:SL001,SL101", True),
        ("  # noqa: SL1", True),  # a prefix, as in --select
        ("  # noqa: SL102", False),
        ("  # noqa: SL2", False),
        ("  # no qa", False),
        ("  # see the noqa docs", False),
    ],
)
def test_noqa_on_the_reported_line(tmp_path, comment, suppressed):
    body = f'for g in optimizer.param_groups:\n    g["lr"] = 0.5{comment}\n'
    assert sl101_lines(tmp_path, body) == ([] if suppressed else [2])


def test_noqa_applies_only_to_its_own_line(tmp_path):
    body = (
        'for g in optimizer.param_groups:\n    g["lr"] = 0.5  # noqa\n'
        'for g in optimizer.param_groups:\n    g["lr"] = 0.25\n'
        'note = "# noqa"\n'
        'for g in optimizer.param_groups:  # noqa\n    g["lr"] = 0.125\n'
    )
    assert sl101_lines(tmp_path, body) == [4, 7]


def test_noqa_on_first_line_covers_a_multi_line_statement(tmp_path):
    body = (
        "updates = [  # noqa: SL101\n"
        "    g.update(lr=0.5)\n"
        "    for g in optimizer.param_groups\n"
        "]\n"
        "again = [\n"
        "    g.update(lr=0.5)\n"
        "    for g in optimizer.param_groups\n"
        "]\n"
    )
    assert sl101_lines(tmp_path, body) == [6]


def test_noqa_on_a_later_line_of_the_statement_does_not_cover_its_first_line(tmp_path):
    body = "[g.update(\n    lr=0.5) for g in optimizer.param_groups]  # noqa: SL101\n"
    assert sl101_lines(tmp_path, body) == [1]


def test_multi_line_statement_nested_in_blocks(tmp_path):
    body = (
        "def warmup(step):\n"
        "    if step < 10:\n"
        "        updates = [  # noqa\n"
        "            g.update(lr=0.5) for g in optimizer.param_groups\n"
        "        ]\n"
        "    else:\n"
        "        try:\n"
        "            done = [  # noqa: SL101\n"
        "                g.update(lr=0.1) for g in optimizer.param_groups\n"
        "            ]\n"
        "        finally:\n"
        "            kept = [\n"
        "                g.update(lr=0.2) for g in optimizer.param_groups\n"
        "            ]\n"
    )
    assert sl101_lines(tmp_path, body) == [13]


def test_noqa_on_a_block_header_does_not_silence_the_block(tmp_path):
    body = (
        "def warmup(step):  # noqa\n"
        "    for g in optimizer.param_groups:\n"
        '        g["lr"] = 0.5\n'
        "class Warmup:  # noqa: SL101\n"
        "    def step(self):\n"
        "        for g in optimizer.param_groups:\n"
        '            g["lr"] = 0.5\n'
    )
    assert sl101_lines(tmp_path, body) == [3, 7]


def test_noqa_through_the_command_line(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.schedlint]\n")
    (tmp_path / "a.py").write_text(
        OPTIMIZER + 'for g in optimizer.param_groups:\n    g["lr"] = 0.5  # noqa: SL101\n'
    )
    (tmp_path / "b.py").write_text(
        OPTIMIZER + 'for g in optimizer.param_groups:\n    g["lr"] = 0.5  # noqa: SL102\n'
    )
    result = run_cli("--select", "SL0,SL101", "a.py", "b.py")
    assert result.exit_code == 1
    assert [
        line.split(": ")[0]
        for line in result.stdout.splitlines()
        if not line.startswith("  help: ")
    ] == ["b.py:10:5"]
