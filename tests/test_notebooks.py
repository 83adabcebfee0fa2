"""Jupyter notebooks: code cells are checked as one program, positions are per cell.

The samples live in tests/data/notebooks/ (fixtures/ holds only *.py files, which
tests/test_fixtures.py checks against their markers).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from fixture_markers import FIXTURES, ROOT, standalone_fixture_files

from schedlint.check.engine import check_paths, check_source
from schedlint.check.files import discover
from schedlint.check.fixes import fix_file, parses
from schedlint.check.notebook import Notebook, is_magic, mask_cell
from schedlint.check.options import Options
from schedlint.rules import all_rules

ALL_CODES = frozenset(r.code for r in all_rules() if r.kind != "guard")
DATA = ROOT / "tests" / "data" / "notebooks"
WARMUP = DATA / "warmup.ipynb"


def _cells(path: Path) -> list:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _position_of(path: Path, needle: str) -> tuple:
    """(cell number, line, column) of ``needle`` in the notebook, counted independently."""
    for number, cell in enumerate(_cells(path), 1):
        for line_no, line in enumerate(_source(cell).split("\n"), 1):
            if needle in line:
                return number, line_no, line.index(needle) + 1
    raise AssertionError(f"{needle!r} not in {path}")


def _notebook(tmp_path, sources, name="nb.ipynb", metadata=None) -> Path:
    cells = []
    for src in sources:
        if isinstance(src, tuple):  # ("markdown", text)
            cells.append({"cell_type": src[0], "metadata": {}, "source": src[1]})
        else:
            cells.append(
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {},
                    "outputs": [],
                    "source": src.splitlines(keepends=True),
                }
            )
    path = tmp_path / name
    path.write_text(
        json.dumps(
            {"cells": cells, "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 5},
            indent=1,
        )
        + "\n"
    )
    return path


# -- masking IPython syntax ------------------------------------------------------------------------
def test_magics_and_shell_lines_become_pass_at_the_same_indentation():
    lines = [
        "%matplotlib inline",
        "!pip install torch",
        "files = !ls",
        "t = %timeit f()",
        "for i in range(3):",
        "    %time step()",
        "    x = 1",
        "obj?",
        "??obj",
        "y = 5 % 2",
    ]
    out, masked = mask_cell(lines)
    assert len(out) == len(lines)
    assert masked == {1, 2, 3, 4, 6, 8, 9}
    assert out[5] == "    pass" and out[0] == "pass"
    assert [out[i] for i in (4, 6, 9)] == [lines[i] for i in (4, 6, 9)]
    assert parses("\n".join(out) + "\n")


def test_percent_and_bang_inside_expressions_and_strings_are_not_magics():
    lines = [
        "x = (a",
        "     % b)",
        's = """',
        "!not a shell line",
        '"""',
        "t = a \\",
        "    % 3",
        "u = f(1,  # comment (",
        "      2)",
        "!ls",
    ]
    out, masked = mask_cell(lines)
    assert masked == {10}
    assert out[:9] == lines[:9]
    assert parses("\n".join(out) + "\n")


def test_magics_called_without_their_percent_are_masked():
    """Automagic (on by default in IPython and Colab): ``pip install timm`` without ``%`` made
    the whole notebook an SL001, and every finding in its other cells was lost."""
    lines = [
        "pip install timm==0.9.16",
        "cd /content/drive",
        "ls data/",
        "time train(model)",
        "matplotlib inline",
        "time = 3",
        "time if fast else slow",
        "ls - 1",
        "run(cfg)",
        "env",
    ]
    out, masked = mask_cell(lines)
    assert masked == {1, 2, 3, 4, 5}
    assert out[5:] == lines[5:]
    assert parses("\n".join(out) + "\n")


def test_cell_magics():
    out, masked = mask_cell(["%%time", "for g in opt.param_groups:", "    g['lr'] = 1"])
    assert out == ["", "for g in opt.param_groups:", "    g['lr'] = 1"] and masked == {1}
    out, masked = mask_cell(["%%bash", "for x in 1 2; do echo $x; done"])
    assert out == ["", ""] and masked == {1, 2}
    assert not is_magic("x = 1") and is_magic("  !nvidia-smi")


# -- checking
def test_findings_point_at_the_cell_line_and_column():
    result = check_source(str(WARMUP), None, ALL_CODES)
    sl101 = [f for f in result.findings if f.code == "SL101"]
    # Cell 5 writes a scalar to every group of the optimizer built in cell 3 (across cells,
    # after markdown cells and magics); cell 7's write carries `# noqa: SL101`.
    assert len(sl101) == 1
    f = sl101[0]
    assert (f.cell, f.line, f.column) == _position_of(WARMUP, 'g["lr"] = 1e-3')
    opt_cell, opt_line, _ = _position_of(WARMUP, "optimizer = optim.SGD(")
    # The help cites the optimizer's line in the notebook's own numbering.
    assert f"(cell {opt_cell}, line {opt_line})" in f.help


def test_text_output_names_the_cell(run_cli):
    r = run_cli("--isolated", "--no-cache", str(WARMUP))
    cell, line, col = _position_of(WARMUP, 'g["lr"] = 1e-3')
    assert r.exit_code == 1
    finding, help_line = r.stdout.splitlines()
    assert finding.startswith(f"{WARMUP}:cell {cell}:{line}:{col}: SL101 ")
    assert help_line.startswith("  help: ")


def test_json_has_a_cell_key_only_on_notebook_findings(run_cli, tmp_path):
    py = tmp_path / "bad.py"
    shutil.copyfile(FIXTURES / "SL101" / "bad_warmup_loop.py", py)
    r = run_cli("--isolated", "--no-cache", "--output-format", "json", str(WARMUP), str(py))
    rows = json.loads(r.stdout)
    base = {
        "code",
        "name",
        "message",
        "help",
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "severity",
        "fix",
    }
    nb_rows = [row for row in rows if row["path"] == str(WARMUP)]
    py_rows = [row for row in rows if row["path"] == str(py)]
    assert nb_rows and py_rows
    assert all(set(row) == base | {"cell"} for row in nb_rows)
    assert all(set(row) == base for row in py_rows)
    cell, line, col = _position_of(WARMUP, 'g["lr"] = 1e-3')
    assert (nb_rows[0]["cell"], nb_rows[0]["line"], nb_rows[0]["column"]) == (cell, line, col)


@pytest.mark.parametrize(
    "path", standalone_fixture_files(), ids=lambda p: str(p.relative_to(FIXTURES))
)
def test_a_fixture_split_into_cells_gives_the_same_findings(path, tmp_path):
    """Cut a fixture into cells (with markdown between): every finding maps back to the same
    line and column of the original file."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    cuts = sorted({0, len(lines)} | set(range(0, len(lines), 7)))
    sources, starts = [], []
    for a, b in zip(cuts, cuts[1:]):
        sources += [("markdown", "notes"), "".join(lines[a:b])]
        starts.append(a)
    nb = _notebook(tmp_path, sources)
    expected = {
        (f.line, f.column, f.code) for f in check_source(str(path), None, ALL_CODES).findings
    }
    got = set()
    for f in check_source(str(nb), None, ALL_CODES).findings:
        code_cell_index = (f.cell - 2) // 2  # markdown, code, markdown, code, ...
        assert f.cell % 2 == 0
        got.add((starts[code_cell_index] + f.line, f.column, f.code))
    assert got == expected


def test_directory_walk_picks_up_notebooks(tmp_path):
    _notebook(tmp_path, ["x = 1\n"], name="a.ipynb")
    (tmp_path / "b.py").write_text("x = 1\n")
    (tmp_path / "c.txt").write_text("x = 1\n")
    found = discover([str(tmp_path)], [], tmp_path)
    assert sorted(Path(p).name for p in found.files) == ["a.ipynb", "b.py"]


def test_a_file_that_is_not_a_notebook_is_sl002(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("optimizer = not json\n")
    no_cells = tmp_path / "nocells.ipynb"
    no_cells.write_text('{"optimizer": 1}')
    results = check_paths([str(bad), str(no_cells)], Options(codes=ALL_CODES, jobs=1))
    assert [[f.code for f in r.findings] for r in results] == [["SL002"], ["SL002"]]


def test_non_python_notebooks_and_markdown_cells_are_skipped(tmp_path):
    code = "for g in opt.param_groups:\n    g['lr'] = 1\n"
    r_nb = _notebook(
        tmp_path,
        [
            "import torch\nopt = torch.optim.SGD([{'params': a, 'lr': 0.1},"
            " {'params': b, 'lr': 0.2}], lr=1)\n",
            code,
        ],
        name="r.ipynb",
        metadata={"kernelspec": {"language": "R", "name": "ir"}},
    )
    md = _notebook(
        tmp_path,
        [
            "import torch\nopt = torch.optim.SGD([{'params': a, 'lr': 0.1},"
            " {'params': b, 'lr': 0.2}], lr=1)\n",
            ("markdown", code),
        ],
        name="md.ipynb",
    )
    py = _notebook(
        tmp_path,
        [
            "import torch\nopt = torch.optim.SGD([{'params': a, 'lr': 0.1},"
            " {'params': b, 'lr': 0.2}], lr=1)\n",
            code,
        ],
        name="py.ipynb",
    )
    assert check_source(str(r_nb), None, ALL_CODES).findings == []
    assert check_source(str(md), None, ALL_CODES).findings == []
    assert [(f.code, f.cell, f.line) for f in check_source(str(py), None, ALL_CODES).findings] == [
        ("SL101", 2, 2)
    ]


def test_a_syntax_error_is_reported_in_its_cell(tmp_path):
    nb = _notebook(tmp_path, ["import torch\n", "x = 1\n", "opt = torch.optim.SGD(\n"])
    findings = check_source(str(nb), None, ALL_CODES, check_syntax_all=True).findings
    assert [(f.code, f.cell) for f in findings] == [("SL001", 3)]


# -- fixing
def test_fix_changes_only_the_fixed_cell_and_is_idempotent(tmp_path):
    nb = tmp_path / "w.ipynb"
    shutil.copyfile(WARMUP, nb)
    outcome = fix_file(str(nb), None, ALL_CODES, unsafe=True)
    assert outcome.fixed_counts["SL101"] == 1 and outcome.converged
    before, after = _cells(WARMUP), json.loads(outcome.fixed)["cells"]
    cell, _, _ = _position_of(WARMUP, 'g["lr"] = 1e-3')
    changed = [i + 1 for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert changed == [cell]
    assert "setdefault" in _source(after[cell - 1])
    assert "%%time" in _source(after[cell - 1]) and "%time x = 1" in _source(after[cell - 1])
    # The rest of the file is byte for byte the same (nbformat's own layout is kept).
    old_lines = WARMUP.read_bytes().splitlines()
    new_lines = outcome.fixed.splitlines()
    assert len(old_lines) == len(new_lines)
    assert sum(a != b for a, b in zip(old_lines, new_lines)) == 1
    assert parses(Notebook(outcome.fixed).source)
    again = fix_file(str(nb), outcome.fixed, ALL_CODES, unsafe=True)
    assert not again.changed


def test_cli_diff_and_fix_on_a_notebook(run_cli, tmp_path):
    nb = tmp_path / "w.ipynb"
    shutil.copyfile(WARMUP, nb)
    cell, _, _ = _position_of(WARMUP, 'g["lr"] = 1e-3')
    r = run_cli("--isolated", "--no-cache", "--diff", "--unsafe-fixes", str(nb))
    assert r.exit_code == 1
    assert r.stdout.startswith(f"--- {nb}:cell {cell}\n+++ {nb}:cell {cell}\n")
    assert nb.read_bytes() == WARMUP.read_bytes()
    r = run_cli("--isolated", "--no-cache", "--fix", "--unsafe-fixes", str(nb))
    assert r.exit_code == 0, r.output
    assert nb.read_bytes() != WARMUP.read_bytes()
    r = run_cli("--isolated", "--no-cache", str(nb))
    assert r.exit_code == 0, r.output


def test_fix_edits_are_cell_relative_and_never_touch_magics_or_leave_the_cell(tmp_path):
    from schedlint.check.documents import NotebookDocument

    nb_path = _notebook(
        tmp_path,
        [
            "import torch\nopt = torch.optim.SGD([{'params': a, 'lr': 0.1},"
            " {'params': b, 'lr': 0.2}], lr=1)\n",
            "%time x = 1\nfor g in opt.param_groups:\n    g['lr'] = 1\n!echo done\n",
        ],
    )
    [f] = check_source(str(nb_path), None, ALL_CODES).findings
    assert (f.cell, f.line) == (2, 3) and f.fix is not None
    assert all(e["line"] == 3 for e in f.fix["edits"])
    doc = NotebookDocument.from_bytes(str(nb_path), nb_path.read_bytes())
    # cell 2 is virtual lines 3..6; its lines 1 and 4 are masked

    def fix(*spans):
        return {
            "applicability": "safe",
            "message": "m",
            "edits": [
                {"line": a, "column": 1, "end_line": b, "end_column": 1, "content": ""}
                for a, b in spans
            ],
        }

    def _map_fix(fix, line=5):  # the fix of a finding on virtual line 5 (cell 2), mapped
        return doc.map_finding(
            dataclasses.replace(f, line=line, end_line=line, cell=None, fix=fix)
        ).fix

    assert _map_fix(fix((5, 6)))["edits"][0]["line"] == 3
    assert _map_fix(fix((3, 4))) is None  # rewrites the %time line
    assert _map_fix(fix((6, 7))) is None  # rewrites the !echo line
    assert _map_fix(fix((2, 4))) is None  # starts in the first cell
    assert _map_fix(fix((4, 5), (1, 1))) is None  # one edit in another cell


def test_pre_commit_hook_covers_notebooks():
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    types = next(line for line in text.splitlines() if line.strip().startswith("types_or:"))
    assert "jupyter" in types and "python" in types


def test_sample_notebooks_clean_and_broken(run_cli):
    clean = check_source(str(DATA / "clean.ipynb"), None, ALL_CODES)
    assert clean.parsed and clean.findings == []
    r = run_cli("--isolated", "--no-cache", str(DATA / "clean.ipynb"), str(DATA / "not_json.ipynb"))
    assert r.exit_code == 1
    assert r.stdout.startswith(f"{DATA / 'not_json.ipynb'}:1:1: SL002 cannot read notebook")
    assert len(r.stdout.splitlines()) == 1


# -- future imports: each cell is compiled on its own ------------------------------------------
FUTURE = DATA / "future_in_later_cells.ipynb"


def test_future_imports_at_the_top_of_a_later_cell_are_valid():
    """Jupyter compiles each cell separately, so ``from __future__ import ...`` at the top of
    any cell (after comments or a docstring) is valid. In the virtual source of all cells it
    is not: the notebook got SL001 and none of its findings (seen in the wild on a ViT
    fine-tuning notebook)."""
    result = check_source(str(FUTURE), None, ALL_CODES)
    cell, line, column = _position_of(FUTURE, 'g["lr"] = lr *')
    # one scalar into both groups (SL101), under a StepLR that compounds it (SL201)
    assert [(f.code, f.cell, f.line, f.column) for f in result.findings] == [
        ("SL101", cell, line, column),
        ("SL201", cell, line, column),
    ]
    assert result.parsed


@pytest.mark.parametrize(
    "cell, where",
    [
        ("x = 1\nfrom __future__ import annotations\n", 2),  # after a statement in its cell
        ("%matplotlib inline\nfrom __future__ import annotations\n", 2),  # after a magic (a call)
        ("from __future__ import annotations\nfrom __future__ import nonsense\n", 2),
        ("from __future__ import annotations\ny = (1,\n", 2),  # an unrelated error stays put
    ],
)
def test_a_misplaced_or_broken_future_import_is_still_sl001_on_its_cell_line(tmp_path, cell, where):
    nb = _notebook(tmp_path, ["import torch\n", ("markdown", "text"), cell])
    findings = check_source(str(nb), None, ALL_CODES, check_syntax_all=True).findings
    assert [(f.code, f.cell, f.line) for f in findings] == [("SL001", 3, where)], findings


def test_an_undecodable_notebook_goes_through_the_byte_gate_first(tmp_path, monkeypatch):
    """A notebook the byte gate rejects costs no decode; one it admits (or any, with
    --check-syntax) that is not UTF-8 is SL002 naming the byte."""
    from schedlint.check import documents

    plain = tmp_path / "plain.ipynb"
    plain.write_bytes(b'{"cells": [{"cell_type": "code", "source": "x = 1  # caf\xe9"}]}')
    training = tmp_path / "training.ipynb"
    training.write_bytes(
        b'{"cells": [{"cell_type": "code", "source": '
        b'"for g in optimizer.param_groups: pass  # caf\xe9"}]}'
    )

    def no_decode(data):
        raise AssertionError("the gate rejects this notebook: it must not be decoded")

    with monkeypatch.context() as m:
        m.setattr(documents, "Notebook", no_decode)
        assert check_source(str(plain), None, ALL_CODES).findings == []
    for path, syntax in ((plain, True), (training, False)):
        [f] = check_source(str(path), None, ALL_CODES, check_syntax_all=syntax).findings
        offset = path.read_bytes().index(b"\xe9")
        assert (f.code, f.message) == (
            "SL002",
            f"cannot read notebook: not UTF-8: invalid byte at offset {offset}",
        ), f


# -- cells an editor marks as another language -----------------------------------------------------
def test_a_code_cell_vscode_marks_as_plaintext_is_not_python(tmp_path):
    """A tutorial keeps the training log it printed in a code cell set to plain text (VS Code's
    per-cell ``languageId``): it is not Python, so no SL001 there, while the Python cells around
    it are still checked, at their own cell numbers."""
    log = (
        "        iters: 100, epoch: 1 | loss: 0.4701951\n"
        "        speed: 0.2108s/iter; left time: 535.7317s\n"
        "Epoch: 1, Steps: 264 | Train Loss: 0.4964185\n"
        "Updating learning rate to 0.0001\n"
    )
    setup = (
        "import torch\nopt = torch.optim.SGD([{'params': a, 'lr': 0.1},"
        " {'params': b, 'lr': 0.2}], lr=1)\n"
    )
    train = "for g in opt.param_groups:\n    g['lr'] = 1\n"
    path = _notebook(tmp_path, [setup, log, train], metadata={"language_info": {"name": "python"}})
    data = json.loads(path.read_text())
    data["cells"][1]["metadata"] = {"vscode": {"languageId": "plaintext"}}
    path.write_text(json.dumps(data, indent=1) + "\n")
    findings = check_source(str(path), None, ALL_CODES, check_syntax_all=True).findings
    assert [(f.code, f.cell, f.line) for f in findings] == [("SL101", 3, 2)]

    data["cells"][1]["metadata"] = {"vscode": {"languageId": "python"}}
    path.write_text(json.dumps(data, indent=1) + "\n")
    findings = check_source(str(path), None, ALL_CODES, check_syntax_all=True).findings
    assert [(f.code, f.cell) for f in findings] == [("SL001", 2)]
