"""The rule catalogue: one declaration per rule, from which `schedlint rule`, `rule --all` and the
SARIF descriptors are all generated (issue 2, "Static-analysis core")."""

import dataclasses
import json
import re

import pytest

import schedlint.rules as rules_pkg
from schedlint.report.formats import sarif_document
from schedlint.rules import all_rules, by_code, checkable_rules, expand_selectors
from schedlint.rules.base import SECTIONS, dedent, parse_docs, rule

REQUIRED = ("What it does", "Why is this bad?", "Example", "Use instead")
RULES = all_rules()


def test_codes_are_unique_and_well_formed():
    codes = [r.code for r in RULES]
    assert len(codes) == len(set(codes))
    assert codes == sorted(codes)
    for r in RULES:
        pattern = r"SLG\d{3}" if r.kind == "guard" else r"SL\d{3}"
        assert re.fullmatch(pattern, r.code), r.code
    names = [r.name for r in RULES]
    assert len(names) == len(set(names)), "rule names must be unique"
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in names), names


def test_builtin_rules_exist():
    codes = by_code()
    assert codes["SL001"].name == "syntax-error"
    assert codes["SL002"].name == "unreadable-file"
    assert codes["SL003"].name == "internal-error"
    assert codes["SL101"].kind == "static" and codes["SL101"].check is not None


@pytest.mark.parametrize("r", RULES, ids=lambda r: r.code)
def test_every_rule_is_fully_documented(r):
    for section in REQUIRED:
        assert r.docs.get(section, "").strip(), f"{r.code}: no '## {section}'"
    assert set(r.docs) <= set(SECTIONS), f"{r.code}: unknown sections {set(r.docs) - set(SECTIONS)}"
    assert r.summary.strip() and "\n" not in r.summary
    assert r.severity in ("error", "warning")
    assert r.kind in ("static", "builtin", "guard")
    assert r.scope in ("file", "project", "runtime")
    assert r.fixable in ("none", "safe", "unsafe", "sometimes")
    assert (r.check is not None) == (r.kind == "static")
    assert (r.scope == "runtime") == (r.kind == "guard")
    md = r.markdown()
    assert md.startswith(f"# {r.name} ({r.code})\n")
    for section in REQUIRED:
        assert f"## {section}\n{r.docs[section]}" in md


def test_checkable_rules_are_the_static_ones():
    assert {r.code for r in checkable_rules()} == {r.code for r in RULES if r.kind == "static"}


def test_rule_decorator_requires_the_documentation_sections():
    with pytest.raises(ValueError, match=r"SL999.*Use instead"):

        @rule("SL999", "undocumented", "error")
        def undocumented(model):
            """Summary.

            ## What it does
            x

            ## Why is this bad?
            y

            ## Example
            z
            """

    @rule("SL998", "documented", "warning", fixable="safe")
    def documented(model):
        """One line summary.

        ## What it does
        Flags things.

        ## Why is this bad?
        Because.

        ## Example
        ```python
        bad()
        ```

        ## Use instead
        ```python
        good()
        ```
        """
        return []

    r = documented.RULE
    assert (r.code, r.name, r.severity, r.fixable, r.kind, r.scope) == (
        "SL998",
        "documented",
        "warning",
        "safe",
        "static",
        "file",
    )
    assert r.summary == "One line summary."
    assert r.docs["Example"] == "```python\nbad()\n```"
    assert r.check is documented


DEDENT_CASES = [
    "",
    "\n",
    "  a\n    b\n  c",
    "\ta\n\t\tb",
    " \t a\n \t b\n",
    "  a\n\n \n  b  \n   ",
    "a\n  b",
    "  x\r\n  y\r\n",
    "\t  a\n  \tb",
]


@pytest.mark.parametrize("text", DEDENT_CASES)
def test_dedent_is_textwrap_dedent(text):
    import textwrap

    assert dedent(text) == textwrap.dedent(text)


def test_dedent_is_textwrap_dedent_on_every_rule_docstring():
    import inspect
    import textwrap

    for module in {r.check.module for r in RULES if hasattr(r.check, "module")}:
        for _, fn in inspect.getmembers(__import__(module, fromlist=["_"]), inspect.isfunction):
            if fn.__doc__:
                assert dedent(fn.__doc__) == textwrap.dedent(fn.__doc__)
                first, _, rest = fn.__doc__.partition("\n")
                assert dedent(rest) == textwrap.dedent(rest)


def test_parse_docs_sections():
    docs = parse_docs("Summary line.\n\n    ## What it does\n    A.\n\n    ## Fix\n    B.\n")
    assert docs == {"summary": "Summary line.", "What it does": "A.", "Fix": "B."}


def test_duplicate_codes_are_refused(monkeypatch):
    twice = [by_code()["SL101"], by_code()["SL101"]]
    monkeypatch.setattr(rules_pkg, "_declared", lambda module, path: twice)
    with pytest.raises(RuntimeError, match="SL101"):
        all_rules.__wrapped__()


def _fields(rules):
    return [
        (r.code, r.name, r.summary, r.severity, r.kind, r.scope, r.docs, r.fixable) for r in rules
    ]


def test_the_catalogue_read_from_the_source_is_the_imported_one():
    """all_rules() reads declarations with ast (no rule module, no libcst imported); it must
    be exactly what importing the modules gives, down to each check function."""
    from schedlint.rules import imported_rules

    read, imported = all_rules(), imported_rules()
    assert _fields(read) == _fields(imported)
    for r, i in zip(read, imported):
        assert (r.check is None) == (i.check is None)
        if r.check is not None:
            assert getattr(r.check, "load", lambda check=r.check: check)() is i.check


def test_a_declaration_that_is_not_literal_is_imported(tmp_path):
    module = tmp_path / "odd_rule.py"
    module.write_text(
        'from schedlint.rules.base import rule\nCODE = "SL101"\n'
        '@rule(CODE, "x", "error")\ndef x(model):\n    """doc"""\n'
    )
    assert rules_pkg._declared("odd_rule", str(module)) is None


def test_expand_selectors():
    static = {r.code for r in RULES}
    assert expand_selectors(["ALL"]) == static
    assert expand_selectors(["SL0"]) == {"SL001", "SL002", "SL003"}
    assert expand_selectors(["sl00", "SL101"]) == {"SL001", "SL002", "SL003", "SL101"}
    with pytest.raises(ValueError, match="XX1"):
        expand_selectors(["SL101", "XX1"])


def _doctored(monkeypatch):
    """Replace SL101's metadata; everything generated from it must follow."""
    real = by_code()["SL101"]
    fake = dataclasses.replace(
        real,
        summary="Doctored summary.",
        docs={**real.docs, "What it does": "Doctored explanation."},
    )
    doctored = tuple(fake if r.code == "SL101" else r for r in RULES)
    monkeypatch.setattr(rules_pkg, "all_rules", lambda: doctored)
    monkeypatch.setattr(rules_pkg, "by_code", lambda: {r.code: r for r in doctored})
    return fake


def test_rule_command_comes_from_metadata(run_cli, monkeypatch):
    fake = _doctored(monkeypatch)
    one = run_cli("rule", "SL101")
    assert one.exit_code == 0 and one.stdout == fake.markdown()
    assert "Doctored summary." in one.stdout and "Doctored explanation." in one.stdout
    listing = run_cli("rule", "--all")
    assert listing.exit_code == 0
    assert listing.stdout.splitlines() == [
        f"{r.code}\t{r.name}\t{r.summary}" for r in rules_pkg.all_rules()
    ]
    rows = json.loads(run_cli("rule", "--all", "--output-format", "json").stdout)
    assert [(r["code"], r["name"], r["summary"], r["severity"], r["fix"]) for r in rows] == [
        (r.code, r.name, r.summary, r.severity, r.fixable) for r in rules_pkg.all_rules()
    ]
    detail = json.loads(run_cli("rule", "SL101", "--output-format", "json").stdout)
    assert detail["summary"] == "Doctored summary."
    assert detail["docs"]["What it does"] == "Doctored explanation."


def test_rule_all_lists_every_rule(run_cli):
    result = run_cli("rule", "--all")
    assert result.exit_code == 0
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == [r.code for r in RULES]


def test_sarif_descriptors_are_the_catalogue():
    descriptors = sarif_document([])["runs"][0]["tool"]["driver"]["rules"]
    static = [r for r in RULES if r.kind != "guard"]
    assert [d["id"] for d in descriptors] == [r.code for r in static]
    for d, r in zip(descriptors, static):
        assert (d["name"], d["shortDescription"]["text"], d["fullDescription"]["text"]) == (
            r.name,
            r.summary[:1024],
            r.docs["What it does"][:1024],
        )
        assert d["help"]["text"] == r.docs["Why is this bad?"][:1024]
        assert d["help"]["markdown"] == r.markdown()


def test_every_rule_module_is_read_from_its_declarations_only():
    """A warm run reads the catalogue from each rule's decorator and docstring, not from the
    whole module (the rule bodies are most of the text)."""
    for module, path in rules_pkg._modules():
        with open(path, encoding="utf-8") as fh:
            source = fh.read()
        if "rule" in source:
            assert rules_pkg._declarations(source) is not None, module


_PLAIN = (
    "from schedlint.rules.base import Report, rule\n\n\n"
    '@rule("SL101", "x", "error")\ndef x(model):\n    """doc"""\n    return f(model)\n'
)


@pytest.mark.parametrize(
    "source",
    [
        _PLAIN.replace("Report, rule", "Report, rule as r").replace("@rule", "@r"),
        _PLAIN.replace(
            "from schedlint.rules.base import Report, rule", "import schedlint.rules.base"
        ),
        _PLAIN.replace("Report, rule\n", "(\n    Report,\n    rule as rule,\n)\n"),
        _PLAIN.replace("from schedlint.rules.base", "from schedlint.rules import base\nfrom x"),
        _PLAIN.replace('@rule("SL101"', '@cache\n@rule("SL101"'),
        _PLAIN.replace('    """doc"""\n', '    """doc \\""" more"""\n'),
        _PLAIN.replace('    """doc"""\n', ""),
    ],
)
def test_a_module_of_another_shape_is_read_whole(source):
    assert rules_pkg._declarations(source) is None


def test_a_plain_module_is_read_from_its_declarations():
    (node,) = rules_pkg._declarations(_PLAIN)
    assert node.name == "x" and len(node.body) == 1  # the docstring; the body was not parsed
    first, second = rules_pkg._declarations(_PLAIN.partition("\n\n\n")[2] * 2)
    assert first.name == second.name == "x"  # a module that starts with its declaration
