"""SL101 across modules: where the help says the groups were built."""

from pathlib import Path

from schedlint.check.engine import check_source

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "SL101"


def test_an_optimizer_built_in_an_imported_module_is_placed_in_that_module():
    # "(line 6)" alone pointed into finetune.py, where line 6 is an import
    result = check_source(
        str(FIXTURES / "bad_factory_handed_on" / "finetune.py"), None, frozenset({"SL101"})
    )
    (finding,) = result.findings
    assert "(line 6 of optim_factory.py)" in finding.help


def test_an_optimizer_built_in_the_file_is_placed_by_line_only():
    result = check_source(str(FIXTURES / "bad_optimizer_factory.py"), None, frozenset({"SL101"}))
    assert [f.help.split("(")[1].split(")")[0] for f in result.findings] == ["line 10", "line 16"]
