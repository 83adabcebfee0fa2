"""The gate is safe: it never rejects a file on which the full checker reports something.

The gate (``schedlint.check.gate``: a byte scan, then a stdlib-``ast`` check) decides which
files are parsed with libcst at all. Skipping a file that has a finding would be a silent
false negative, so this module checks the claim directly: every file the gated engine skips
is checked again with the gate off (``check_source(..., gate=False)``: parsed, modelled and
run through every rule), and must get no finding. Only skipped files need that second, full
check: on admitted files the gate changes nothing.

Corpora: every fixture (fast), and, marked slow (still run in CI), the installed ``torch``
package when it is there and the Python standard library: about 4,000 files and 2M lines,
fully parsed in a process pool (a few minutes on 2 cores).

Syntax errors (SL001) and unreadable files (SL002) on skipped files are reported only with
``--check-syntax`` by design, so they are not counted as findings the gate hides.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sysconfig
from pathlib import Path

import pytest

from schedlint.check import engine
from schedlint.check import gate as prefilter
from schedlint.check.options import Options
from schedlint.rules import all_rules

ROOT = Path(__file__).resolve().parent.parent
CODES = frozenset(r.code for r in all_rules() if r.kind != "guard")
NOT_GATED = frozenset({"SL001", "SL002"})  # reported on skipped files with --check-syntax


def _py_files(top: Path, skip=("site-packages", "dist-packages", "__pycache__")) -> list:
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d not in skip)
        out += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py")]
    return out


def _gate_misses(paths) -> list:
    """(path, findings) for files the gate skips but the full checker reports on."""
    gated = engine.check_paths(paths, Options(codes=CODES))
    skipped = _skipped(gated)
    return _misses(skipped, engine.check_paths(skipped, Options(codes=CODES, gate=False)))


def _skipped(gated) -> list:
    """The files of the gated results ``gated`` that the gate skipped."""
    return [r.path for r in gated if not r.parsed and not r.findings]


def _misses(skipped, full) -> list:
    """(path, findings) for the results of ``full`` (ungated) whose file is one of ``skipped``
    and that report something."""
    skipped = set(skipped)
    return [
        (
            r.path,
            [
                f"{f.line}:{f.column} {f.code} {f.message}"
                for f in r.findings
                if f.code not in NOT_GATED
            ],
        )
        for r in full
        if r.path in skipped and any(f.code not in NOT_GATED for f in r.findings)
    ]


def _show(misses) -> str:
    return "\n".join(f"{path}: {findings}" for path, findings in misses[:20])


# -- the fixtures: every rule's bad and good examples -----------------------------------------
@pytest.fixture(scope="module")
def fixture_runs():
    """(paths, gated results, ungated results) over every fixture and test data file: each
    engine runs once for the tests below."""
    paths = _py_files(ROOT / "fixtures") + _py_files(ROOT / "tests" / "data")
    gated = engine.check_paths(paths, Options(codes=CODES))
    full = engine.check_paths(paths, Options(codes=CODES, gate=False))
    return paths, gated, full


def test_the_gate_admits_every_fixture_with_a_finding(fixture_runs):
    paths, gated, full = fixture_runs
    assert paths
    misses = _misses(_skipped(gated), full)
    assert not misses, "the prefilter skips files with findings:\n" + _show(misses)


def test_gated_and_ungated_findings_are_identical_on_fixtures(fixture_runs):
    paths, gated, full = fixture_runs
    fixtures = {str(p) for p in _py_files(ROOT / "fixtures")}
    assert fixtures

    def keys(results):
        return [
            sorted(
                (f.line, f.column, f.code, f.message) for f in r.findings if f.code not in NOT_GATED
            )
            for r in results
            if r.path in fixtures
        ]

    assert keys(gated) == keys(full)


# -- the corpora (slow: every skipped file is parsed with libcst) ------------------------------
def _torch_dir():
    spec = importlib.util.find_spec("torch")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


@pytest.mark.slow
def test_the_gate_is_safe_on_the_installed_torch():
    top = _torch_dir()
    if top is None:
        pytest.skip("torch is not installed")
    paths = _py_files(top)
    assert len(paths) > 1000
    misses = _gate_misses(paths)
    assert not misses, "the prefilter skips files with findings:\n" + _show(misses)


@pytest.mark.slow
def test_the_gate_is_safe_on_the_standard_library():
    paths = _py_files(Path(sysconfig.get_paths()["stdlib"]))
    assert len(paths) > 500
    misses = _gate_misses(paths)
    assert not misses, "the prefilter skips files with findings:\n" + _show(misses)


# -- the gate's pieces --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, verdict",
    [
        ("import os\nprint(os.sep)\n", prefilter.REJECT),
        ("optimizer.step()\nscheduler.step()\n", prefilter.REJECT),  # nothing built here
        ("# torch.optim.SGD is not used\n", prefilter.MAYBE),  # stage 2 decides
        ("from torch import optim\nopt = optim.SGD(p)\n", prefilter.MAYBE),
        ("import torch.optim as o\ns = o.lr_scheduler.StepLR(opt, 3)\n", prefilter.MAYBE),
        ("from apex.optimizers import FusedAdam\n", prefilter.MAYBE),
        ("from transformers import get_scheduler\n", prefilter.MAYBE),
        ("from timm.optim import Lion\n", prefilter.MAYBE),
        ("for g in self.param_groups: pass\n", prefilter.MAYBE),
        # An optimizer word but no catalogue name: no construction can be qualified here.
        ("from torch import optim\n", prefilter.REJECT),
        ("import torch.optim as o\nif isinstance(x, o.Optimizer): pass\n", prefilter.REJECT),
        ("x = optim\n", prefilter.REJECT),
        ("x = optimx + xoptim + my_optim\n", prefilter.REJECT),
        ("x = g['lr_mult']\n", prefilter.ADMIT),  # SL107 reads keys in any file
        ("x = dict(params=p, lr_scale=0.1)\n", prefilter.ADMIT),
        ("x = g.get('lrmult')\n", prefilter.ADMIT),
        # A timm scheduler reads "lr_scale" (SL107) and its call names no optimizer word.
        (
            "from timm.scheduler import CosineLRScheduler\ns = CosineLRScheduler(opt, 10)\n",
            prefilter.MAYBE,
        ),
        ("import timm\ns = timm.scheduler.create_scheduler(cfg, opt)\n", prefilter.MAYBE),
        # ``timm`` only inside other names (torch's inductor: ``timm_models`` benchmarks,
        # a ``scheduler`` module of its own) builds no timm scheduler.
        ("from .scheduler import BaseScheduler\nSUITES = ['timm_models']\n", prefilter.REJECT),
    ],
)
def test_scan(text, verdict):
    assert prefilter.scan(text.encode()) == verdict
    if verdict != prefilter.REJECT:
        assert prefilter.admits(text.encode())  # the loose byte check is a superset


_OPTIMIZER_IMPL = """\
import torch
from torch.optim import Optimizer


class Lion(Optimizer):
    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99)):
        super().__init__(params, dict(lr=lr, betas=betas))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                p.add_(torch.sign(p.grad), alpha=-group["lr"])
"""


@pytest.mark.parametrize(
    "text, admitted",
    [
        ("import torch\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\n", True),
        ("from torch import optim\nopt = optim.Adam(p)\n", True),
        ("import torch.optim as O\ns = O.lr_scheduler.StepLR(opt, 3)\n", True),
        ("from torch.optim.lr_scheduler import StepLR as S\ns = S(opt, 3)\n", True),
        ("import torch.optim.lr_scheduler\ns = torch.optim.lr_scheduler.OneCycleLR(o, 1)\n", True),
        ("from transformers import get_linear_schedule_with_warmup as g\ns = g(o, 1, 2)\n", True),
        ("import bitsandbytes as bnb\nopt = bnb.optim.Adam8bit(p)\n", True),
        ("from torch.optim.lr_scheduler import LRScheduler\nclass W(LRScheduler): pass\n", True),
        ("def f(opt):\n    for g in opt.param_groups:\n        g['lr'] = 1\n", True),
        # The builder reads imports in order; the gate counts every import of a name.
        ("from torch.optim import SGD\nopt = SGD(p)\nfrom mylib import SGD\n", True),
        ("def f():\n    from torch import optim\n    return optim.SGD(p)\n", True),
        ("from timm.scheduler import CosineLRScheduler\ns = CosineLRScheduler(o, 10)\n", True),
        ("import timm.scheduler\ns = timm.scheduler.create_scheduler_v2(o)\n", True),
        ("import timm.models.hub as hub\nhub.download_cached_file(url)\n", False),
        # Mentions that build nothing.
        ("# uses torch.optim.SGD\nx = 1\n", False),
        ('"""See torch.optim.lr_scheduler.StepLR."""\n', False),
        ("import torch\nif isinstance(o, torch.optim.Optimizer): pass\n", False),
        ("from torch import optim\nopt = optim.Optimizer\n", False),
        ("import transformers\nm = transformers.AutoModel.from_pretrained('x')\n", False),
        ("from .optim import SGD\nopt = SGD(p)\n", False),  # relative: the builder skips it too
        # ... but an optimizer class of the package's own may derive from a torch optimizer
        ("from .optim import WarmupAdamW\nopt = WarmupAdamW(p, lr=1e-3)\n", True),
        ("from .optim import Warmup\nw = Warmup(p)\n", False),
        # An optimizer's own implementation loops over its groups: nothing for a rule there.
        (_OPTIMIZER_IMPL, False),
        (
            _OPTIMIZER_IMPL.replace(
                "from torch.optim import Optimizer", "import torch.optim"
            ).replace("(Optimizer)", "(torch.optim.Optimizer)"),
            False,
        ),
        # ... but the same loop elsewhere counts: a trainer's groups, a concrete optimizer
        # whose step a subclass overrides, another object's groups inside an optimizer.
        (_OPTIMIZER_IMPL.replace("(Optimizer)", "(object)"), True),
        (_OPTIMIZER_IMPL.replace("(Optimizer)", "(Adam)").replace("Optimizer\n", "Adam\n"), True),
        (_OPTIMIZER_IMPL.replace("self.param_groups:", "self.base.param_groups:"), True),
        # an implementation the file builds (its step may write one lr into the groups it is
        # built with, SL101)
        (_OPTIMIZER_IMPL + "\n\nopt = Lion([{'params': a, 'lr': 1e-5}, {'params': b}])\n", True),
        (
            _OPTIMIZER_IMPL + "\n\ndef set_lr(self, lr):\n    for g in self.param_groups:\n"
            "        g['lr'] = lr\n",
            True,
        ),
    ],
)
def test_admits_code(text, admitted):
    import ast

    assert prefilter.admits_code(ast.parse(text)) is admitted
    if admitted:  # stage 1 must not reject what stage 2 admits
        assert prefilter.scan(text.encode()) != prefilter.REJECT


def test_an_optimizer_implementation_inside_torchs_package_is_told_by_its_relative_import(
    tmp_path,
):
    """``from .optimizer import Optimizer`` in ``torch/optim/adam.py`` is torch's base class;
    the same relative import in another package names something else."""
    import ast

    for package in ("torch/optim", "mylib/optim"):
        folder = tmp_path / package
        folder.mkdir(parents=True)
        for d in (folder, folder.parent):
            (d / "__init__.py").write_text("")
        text = _OPTIMIZER_IMPL.replace(
            "from torch.optim import Optimizer", "from .optimizer import Optimizer"
        )
        path = str(folder / "lion.py")
        admitted = prefilter.admits_code(ast.parse(text), path)
        assert admitted is (package != "torch/optim"), package
        assert prefilter.admits_code(ast.parse(text)) is True  # no path: not resolved


def test_stage_one_finds_every_catalogue_name():
    from schedlint.model import catalogue

    names = (
        set(catalogue.TORCH_SCHEDULERS)
        | set(catalogue.TRANSFORMERS_FACTORIES)
        | set(catalogue.TORCH_OPTIMIZERS)
        | {"LRScheduler", "_LRScheduler", "Adam8bit", "PagedLion32bit", "FusedLAMB", "RMSpropTF"}
    )
    for name in sorted(names):
        assert (
            prefilter.scan(f"from torch import optim\nx = {name}\n".encode()) == prefilter.MAYBE
        ), name


def test_the_lr_key_pattern_covers_the_builders():
    from schedlint.model.builder import LR_SCALING_KEY

    alternatives = re.search(r"\(([^()]*)\)", LR_SCALING_KEY.pattern).group(1).split("|")
    for alt in alternatives:
        for key in (f"lr_{alt}", f"lr{alt}"):
            if LR_SCALING_KEY.match(key):
                assert prefilter.scan(f"g[{key!r}]\n".encode()) == prefilter.ADMIT, key


def test_the_gate_never_imports_libcst_for_a_skipped_file(tmp_path):
    import subprocess
    import sys

    plain = tmp_path / "plain.py"
    plain.write_text("# an optimizer, a scheduler, torch.optim\nimport os\n")
    code = (
        "import sys\nfrom schedlint.check import engine\n"
        f"r = engine.check_source({str(plain)!r}, None, frozenset({{'SL101'}}))\n"
        "assert not r.parsed\nprint('libcst' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_a_helper_that_only_names_an_optimizer_admits_none_of_its_importers(tmp_path):
    # Stage 0 admits a file through an in-tree helper the gate admits; a helper that stage 1
    # is unsure of (it names Adam in a lazy-import table) must pass stage 2 too, or every
    # module of a package importing its __init__ is parsed (diffusers: 103 files more)
    (tmp_path / "registry.py").write_text('_LAZY = {"optim": ["Adam", "SGD"]}\n')
    (tmp_path / "factory.py").write_text(
        "import torch\n\n\ndef build(model, lr):\n"
        "    return torch.optim.Adam(model.parameters(), lr=lr)\n"
    )
    importer = "from {} import thing\n\n\ndef run(model, lr):\n    return thing(model, lr)\n"
    (tmp_path / "uses_registry.py").write_text(importer.format("registry"))
    (tmp_path / "uses_factory.py").write_text(importer.format("factory"))
    options = Options(codes=CODES)
    results = engine.check_paths(
        [str(tmp_path / "uses_registry.py"), str(tmp_path / "uses_factory.py")], options
    )
    assert [r.parsed for r in results] == [False, True]


def test_a_module_stage_two_rejected_as_an_import_is_not_parsed_again(tmp_path, monkeypatch):
    # The gate asks about registry.py for its importer (stage 0) and rejects its code; the
    # file's own check then takes that verdict on the same bytes instead of parsing again.
    # A module that does not parse gets no such verdict: its own check still reports SL001.
    from schedlint.check import pool, syntax

    (tmp_path / "registry.py").write_text('_LAZY = {"optim": ["Adam", "SGD"]}\n')
    (tmp_path / "broken.py").write_text('_LAZY = {"optim": ["Adam", "SGD"]\n')
    importer = "from {} import thing\n\n\ndef run(model, lr):\n    return thing(model, lr)\n"
    (tmp_path / "uses_registry.py").write_text(importer.format("registry"))
    (tmp_path / "uses_broken.py").write_text(importer.format("broken"))
    parsed = []
    parse_ast = syntax.parse_ast
    monkeypatch.setattr(
        syntax, "parse_ast", lambda path, source: parsed.append(path) or parse_ast(path, source)
    )
    names = ["uses_registry.py", "registry.py", "uses_broken.py", "broken.py"]
    results = pool.check_batch([str(tmp_path / n) for n in names], Options(codes=CODES))
    assert [r.parsed for r in results] == [False] * 4
    assert [f.code for r in results for f in r.findings] == ["SL001"]
    assert results[3].findings and parsed == [str(tmp_path / "broken.py")]


def test_a_trainer_class_is_admitted_through_the_script_that_calls_it(tmp_path):
    # Stage 0 the other way round: trainer.py never names torch.optim, but train.py (which
    # the gate admits) hands Trainer(...) its scheduler; a script that merely mentions the
    # class, or a caller the gate rejects, admits nothing
    trainer = (
        "class Trainer:\n    def __init__(self, optimizer, lr_scheduler):\n"
        "        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler\n\n"
        "    def epoch(self):\n        self.optimizer.step()\n        self.lr_scheduler.step()\n"
    )
    (tmp_path / "pkg_a").mkdir()
    (tmp_path / "pkg_a" / "trainer.py").write_text(trainer)
    (tmp_path / "pkg_a" / "train.py").write_text(
        "import torch\nfrom trainer import Trainer\n\n\ndef main(model):\n"
        "    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    Trainer(opt, torch.optim.lr_scheduler.ReduceLROnPlateau(opt)).epoch()\n"
    )
    (tmp_path / "pkg_b").mkdir()
    (tmp_path / "pkg_b" / "trainer.py").write_text(trainer)
    (tmp_path / "pkg_b" / "run.py").write_text(
        "from trainer import Trainer\n\n\ndef main(opt, sched):\n    Trainer(opt, sched).epoch()\n"
    )
    options = Options(codes=CODES)
    paths = [str(tmp_path / "pkg_a" / "trainer.py"), str(tmp_path / "pkg_b" / "trainer.py")]
    results = engine.check_paths(paths, options)
    assert [r.parsed for r in results] == [True, False]
    assert [f.code for f in results[0].findings] == ["SL205"]


def test_a_trainer_class_is_admitted_through_a_factory_the_script_calls(tmp_path):
    # One level further: trainer_factory.py (which the gate rejects) only forwards its
    # arguments to Trainer(...) in a top-level function; train.py (admitted) calls that
    # function with its scheduler. A second factory level is not followed.
    trainer = (
        "class Trainer:\n    def __init__(self, optimizer, lr_scheduler):\n"
        "        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler\n\n"
        "    def epoch(self):\n        self.optimizer.step()\n        self.lr_scheduler.step()\n"
    )
    factory = (
        "from trainer import Trainer\n\n\ndef build_trainer(\n    cfg, optimizer, lr_scheduler\n"
        "):\n    return Trainer(optimizer, lr_scheduler)\n"
    )
    script = (
        "import torch\nfrom {module} import {function}\n\n\ndef main(cfg, model):\n"
        "    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    {function}(cfg, opt, torch.optim.lr_scheduler.ReduceLROnPlateau(opt)).epoch()\n"
    )
    (tmp_path / "pkg_a").mkdir()
    (tmp_path / "pkg_a" / "trainer.py").write_text(trainer)
    (tmp_path / "pkg_a" / "trainer_factory.py").write_text(factory)
    (tmp_path / "pkg_a" / "train.py").write_text(
        script.format(module="trainer_factory", function="build_trainer")
    )
    (tmp_path / "pkg_b").mkdir()
    (tmp_path / "pkg_b" / "trainer.py").write_text(trainer)
    (tmp_path / "pkg_b" / "trainer_factory.py").write_text(factory)
    (tmp_path / "pkg_b" / "registry.py").write_text(
        "from trainer_factory import build_trainer\n\n\n"
        "def make(cfg, optimizer, lr_scheduler):\n"
        "    return build_trainer(cfg, optimizer, lr_scheduler)\n"
    )
    (tmp_path / "pkg_b" / "train.py").write_text(script.format(module="registry", function="make"))
    options = Options(codes=CODES)
    paths = [str(tmp_path / "pkg_a" / "trainer.py"), str(tmp_path / "pkg_b" / "trainer.py")]
    results = engine.check_paths(paths, options)
    assert [r.parsed for r in results] == [True, False]
    assert [(f.line, f.code) for f in results[0].findings] == [(7, "SL205")]


# The byte checks as plain regexes: what admits(), imported_modules() and Tree.callers compute
# faster (by bytes.find first); they must answer exactly as these do.
_LOOSE_REFERENCE = re.compile(rb"\blr\b|lr_|_lr|LR")
_PIECES = [
    b"lr",
    b"LR",
    b"_",
    b"lr_mult",
    b"lrmult",
    b"a",
    b"9",
    b".",
    b" ",
    b"\t",
    b"\n",
    b"\r",
    b"import",
    b"from",
    b"(",
    b",",
    b"\xc3\xa9",
    b"opt",
    b"Trainer",
    b"#",
    b"x",
]


def _reference_admits(data: bytes) -> bool:
    if b"optim" in data or b"param_groups" in data or b"chedul" in data or b"transformers" in data:
        return True
    return bool(_LOOSE_REFERENCE.search(data) or prefilter._LR_KEY.search(data))


def _reference_imported_modules(data: bytes) -> list:
    out = []
    for m in prefilter._IMPORT.finditer(data):
        if m.group(3):
            out.append(m.group(3).decode("ascii", "replace"))
            continue
        base = m.group(1).decode("ascii", "replace")
        out.append(base)
        for name in m.group(2).split(b","):
            name = name.strip().split()[0] if name.strip() else b""
            if name:
                sep = "" if base.endswith(".") else "."
                out.append(f"{base}{sep}{name.decode('ascii', 'replace')}")
    return out


def _byte_texts():
    from hypothesis import strategies as st

    return st.lists(st.sampled_from(_PIECES), max_size=30).map(b"".join)


def test_the_byte_checks_answer_as_their_regexes():
    from hypothesis import given, settings

    @settings(max_examples=400, deadline=None)
    @given(_byte_texts())
    def check(data):
        assert prefilter.admits(data) == _reference_admits(data)
        assert prefilter.imported_modules(data) == _reference_imported_modules(data)

    check()
    for path in _py_files(ROOT / "fixtures") + _py_files(ROOT / "schedlint"):
        data = Path(path).read_bytes()
        assert prefilter.admits(data) == _reference_admits(data), path
        assert prefilter.imported_modules(data) == _reference_imported_modules(data), path


@pytest.mark.parametrize(
    "path, inside",
    [
        ("/proj/train.py", True),
        ("/proj/pkg/utils.py", True),
        ("/proj/.venv/lib/python3.11/site-packages/pkg/utils.py", False),
        ("/proj/dist-packages/utils.py", False),
        ("/proj/my-site-packages/utils.py", True),  # only a whole folder name counts
        ("/proj/site-packages-old/utils.py", True),
        ("/other/utils.py", False),
    ],
)
def test_only_the_project_outside_installed_packages_is_the_tree(path, inside):
    # Stage 0 and import resolution never read installed code as part of the checked tree.
    from schedlint.model.tree import Tree

    assert Tree("/proj").inside(path) is inside
