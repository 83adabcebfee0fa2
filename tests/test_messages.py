"""Messages follow ruff: one short sentence saying what is wrong; the advice is the help.

Every finding of every fixture is checked, so a new rule or a new message is held to it too.
"""

import textwrap

import pytest
from fixture_markers import FIXTURES, fixture_files

from schedlint.check.engine import check_source, run_project_rules
from schedlint.rules import all_rules
from schedlint.rules.base import clip, some

ALL_CODES = frozenset(r.code for r in all_rules() if r.kind != "guard")
STATIC = frozenset(r.code for r in all_rules() if r.kind == "static")
LIMIT = 120


def _fixture_findings():
    results = [check_source(str(p), None, ALL_CODES) for p in fixture_files()]
    return [f for r in results for f in r.findings] + run_project_rules(results, ALL_CODES)


FINDINGS = _fixture_findings()


@pytest.mark.parametrize("f", FINDINGS, ids=lambda f: f"{f.code}-{f.path.split('/')[-1]}:{f.line}")
def test_message_is_one_short_sentence_and_the_advice_is_the_help(f):
    assert f.path.startswith(str(FIXTURES))
    assert "\n" not in f.message and len(f.message) <= LIMIT, (len(f.message), f.message)
    # What to do lives in the help, not after a semicolon in the message.
    assert ";" not in f.message, f.message
    if f.code in STATIC:
        assert f.help and "\n" not in f.help, f


def test_every_static_rule_is_covered():
    assert {f.code for f in FINDINGS} >= STATIC


def test_a_thousand_groups_give_a_short_message():
    # On main before this test, 10,000 groups gave an 89 KB message.
    groups = ",\n".join(f'    {{"params": p{i}, "lr": {i + 1}e-6}}' for i in range(1000))
    src = (
        f"import torch\noptimizer = torch.optim.SGD([\n{groups}\n], lr=1e-3)\n"
        "for g in optimizer.param_groups:\n    g['lr'] = 1e-3\n"
    )
    result = check_source("many.py", src.encode(), frozenset({"SL101"}))
    [f] = result.findings
    assert f.message == (
        "one scalar lr `1e-3` overwrites all groups of `optimizer` "
        "(built with lr 1e-6, 2e-6, 3e-6 and 997 more)"
    )
    assert len(f.help) <= 200


def test_long_source_text_is_clipped():
    src = textwrap.dedent("""\
        import torch
        optimizer = torch.optim.SGD([{"params": a, "lr": 1e-4}, {"params": b}], lr=1e-3)
        for g in optimizer.param_groups:
            g["lr"] = some_configuration_object.learning_rate_schedule_value * warmup_factor
        """)
    [f] = check_source("long.py", src.encode(), frozenset({"SL101"})).findings
    assert f.message == (
        "one scalar lr `some_configuration_obje...` overwrites all "
        "groups of `optimizer` (built with lr 1e-4 and 1e-3)"
    )


def test_a_long_message_names_the_count_of_lrs_instead():
    groups = ", ".join(f'{{"params": p{i}, "lr": config.backbone_lr_{i} * 0.5}}' for i in range(5))
    src = (
        f"import torch\nthe_training_optimizer = torch.optim.SGD([{groups}], lr=1e-3)\n"
        "for g in the_training_optimizer.param_groups:\n"
        "    g['lr'] = warmup_schedule_value(step) * config.base_lr\n"
    )
    [f] = check_source("long.py", src.encode(), frozenset({"SL101"})).findings
    assert f.message == (
        "one scalar lr `warmup_schedule_value(s...` overwrites all groups of "
        "`the_training_opti...` (built with 5 distinct lrs)"
    )


def test_some_and_clip():
    assert some([]) == "" and some(["a"]) == "a" and some(["a", "b"]) == "a and b"
    assert some(["a", "b", "c"]) == "a, b and c"
    assert some(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"
    assert clip("x  +\n   y") == "x + y"
    assert clip("a" * 50, 10) == "aaaaaaa..."


# The finding shapes the rules gained after the messages were first split (one each): each must
# keep a short message and a separate help, which the test above checks on every finding; this
# list makes sure the fixtures still produce them.
NEW_SHAPES = [
    ("SL104", "bad_list_per_epoch.py", "returns one lr per"),
    ("SL207", "bad_gradient_accumulation.py", "every micro-batch"),
    ("SL206", "bad_schedulers_by_kind.py", "warns on every call"),
    ("SL207", "bad_accelerate_per_process.py", "after `accelerator.prepare`"),
    ("SL207", "bad_both_and_wrong_length.py", "is sized from `len(train_dataset)`"),
    ("SL207", "bad_both_and_wrong_length.py", "once per epoch and also every batch"),
    ("SL203", "bad_trainer_train_method.py", "in every call of `train()`"),
    ("SL207", "bad_accumulation_helper.py", "every micro-batch"),
    ("SL207", "bad_trainer_steps_both.py", "also every batch in `train_epoch()`"),
    ("SL207", "bad_onecycle_sized_from_val_loader.py", "steps once per batch of `train_loader`"),
    ("SL207", "bad_cosine_epochs_literal.py", "counts epochs"),
    ("SL209", "bad_config_helpers.py", "counts optimizer steps"),
    ("SL209", "bad_lightning_modules.py", "counts optimizer steps"),
    ("SL209", "bad_lightning_modules.py", "counts epochs"),
    ("SL210", "bad_plateau_configs.py", "without a `monitor`"),
    ("SL201", "bad_lightning_optimizer_step_warmup.py", "manual lr write on `optimizer`"),
    ("SL207", "bad_lightning_manual_training_step.py", "runs every batch in `training_step`"),
    ("SL211", "bad_manual_gan_schedulers.py", "under manual optimization and never stepped"),
    ("SL304", "bad_accelerate_save_state.py", "saves the prepared optimizer"),
    ("SL301", "bad_resume_shapes.py", "on a fresh run"),
    ("SL301", "bad_resume_shapes.py", "moves the scheduler's counter"),
    ("SL304", "bad_resume_weights_only.py", "resumes from the checkpoint's epoch"),
    ("SL307", "bad_rebuilt_in_loop.py", "rebuilt in every pass"),
    ("SL308", "bad_plot_on_copy.py", "shares the optimizer's param groups"),
]


@pytest.mark.parametrize("code, name, words", NEW_SHAPES)
def test_new_finding_shapes_have_a_short_message_and_a_help(code, name, words):
    found = [
        f for f in FINDINGS if f.code == code and f.path.endswith(f"/{name}") and words in f.message
    ]
    assert found, (code, name, words)
    for f in found:
        assert len(f.message) <= LIMIT and ";" not in f.message
        assert f.help and f.help != f.message


def test_a_bound_a_caller_passes_is_shown_as_the_callers_value():
    # On main before this test: "scalar max_lr=max_lr in OneCycleLR ...", the parameter's
    # name, where the reader chose 3e-3 in train.py.
    learner = FIXTURES / "SL102" / "bad_learner_fit_one_cycle_package" / "learner.py"
    [f] = check_source(str(learner), None, frozenset({"SL102"})).findings
    assert f.message.startswith("scalar max_lr=3e-3 in OneCycleLR"), f.message
    assert "`max_lr` is the `3e-3` passed on line 20 of train.py" in f.help, f.help


def test_a_configured_pick_of_schedulers_is_named_whole():
    # On main before this test the help named StepLR alone, the first branch of
    # build_lr_scheduler, while the configuration's default builds the MultiStepLR.
    engine = FIXTURES / "SL304" / "bad_configured_scheduler_engine" / "reid" / "engine.py"
    [f] = check_source(str(engine), None, frozenset({"SL304"})).findings
    assert "(StepLR, line 11 of ../train.py, or MultiStepLR, line 13 of ../train.py)" in f.help


@pytest.mark.parametrize(
    "code, fixture, checked",
    [
        ("SL302", "bad_namespace_dir_distiller", "kd/distill.py"),
        ("SL201", "bad_base_trainer_warmup_package", "base_trainer.py"),
    ],
)
def test_a_scheduler_built_in_another_module_is_placed_in_the_help(
    tmp_path, code, fixture, checked
):
    # On main before this test, SL302: "... runs after scheduler `scheduler` (line 24 of
    # ../run_distillation_experiment.py) was built on it", 137 characters: the path of the
    # module building the scheduler made the message long.
    import shutil

    tree = tmp_path / "project"
    shutil.copytree(FIXTURES / code / fixture, tree)
    (tree / "train.py").rename(tree / "run_distillation_experiment.py")
    [f] = check_source(str(tree / checked), None, frozenset({code})).findings
    assert len(f.message) <= LIMIT and " of " not in f.message, f.message
    assert "is built on line" in f.help and "run_distillation_experiment.py" in f.help, f.help
