"""The model's call-site queries (model.call_sites, model.arguments, model.assignments) that
the SL203/SL207/SL308 shapes read: who calls a function, from which loop, with what."""

import textwrap

import libcst as cst

from schedlint.model.builder import build_model

SOURCE = """
    import copy
    import torch

    def train_one_epoch(model, loader, optimizer, scheduler):
        for x, y in loader:
            optimizer.step()
        scheduler.step()

    def main(args, model, train_loader, val_loader):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
        active = train_loader
        if args.resume:
            active = skip_first_batches(train_loader, args.step)
        for epoch in range(args.epochs):
            train_one_epoch(model, active, optimizer, scheduler)
        train_one_epoch(model, loader=val_loader, optimizer=optimizer, scheduler=scheduler)

    def spread(model, *rest):
        train_one_epoch(model, *rest)
"""


def _model():
    source = textwrap.dedent(SOURCE)
    return build_model("snippet.py", source, cst.parse_module(source))


def _scope(model, name):
    return next(s for s in model.scopes if s.name == name and s.kind == "function")


def test_call_sites_give_the_calling_loop():
    model = _model()
    sites = model.call_sites(_scope(model, "train_one_epoch"))
    loops = {(caller.name, loop.iter.src if loop else None) for caller, _, loop in sites}
    assert ("main", "range(args.epochs)") in loops and ("main", None) in loops


def test_arguments_by_position_and_keyword_and_unknown_with_star_args():
    model = _model()
    fn = _scope(model, "train_one_epoch")
    # `spread` hands its arguments over with *rest: which one lands in `loader` is unseen
    assert model.arguments(fn, "loader") is None
    assert model.arguments(_scope(model, "main"), "args") == []


def test_assignments_hold_both_arms():
    model = _model()
    bound = [model.value(node).src for node in model.assignments(_scope(model, "main"), "active")]
    assert bound == ["train_loader", "skip_first_batches(train_loader, args.step)"]


HELPER_SOURCE = """
    import torch

    class Trainer:
        def __init__(self, optimizer, scheduler):
            self.optimizer = optimizer
            self.scheduler = scheduler

        def train_step(self, batch):
            self.optimizer.step()
            self.scheduler.step()

        def train_epoch(self, loader):
            for batch in loader:
                self.train_step(batch)

        def evaluate(self, batch):
            self.scheduler.step()

        def fit(self, loader, batch):
            self.evaluate(batch)
            for batch in loader:
                self.evaluate(batch)
"""


def test_loops_around_calls_give_the_loop_of_a_per_batch_helper():
    source = textwrap.dedent(HELPER_SOURCE)
    model = build_model("trainer.py", source, cst.parse_module(source))
    step, other = (c for c in model.calls if c.receiver == "self.scheduler")
    sites = model.loops_around_calls(step)
    assert [s.loop.iter.src for s in sites] == ["loader"]
    # one call of ``evaluate`` runs outside any loop: no loop repeats every run of it
    assert model.loops_around_calls(other) == []


def test_schedulers_reached_are_those_a_caller_module_hands_a_class(tmp_path):
    from schedlint.model.tree import Tree

    (tmp_path / "engine.py").write_text(textwrap.dedent(HELPER_SOURCE))
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import torch
            from engine import Trainer

            def main(model, loader):
                optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
                scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3)
                Trainer(optimizer, scheduler).train_epoch(loader)
            """
        )
    )
    path = str(tmp_path / "engine.py")
    source = (tmp_path / "engine.py").read_text()
    model = build_model(path, source, cst.parse_module(source), tree=Tree(str(tmp_path)))
    (sched,) = model.schedulers_reached()
    assert sched.cls == "StepLR" and model.is_foreign(sched) and not model.schedulers
    assert model.schedulers_reached(sched.optimizer) == [sched]
    assert [text for _, text in model.holders(sched)] == ["self.scheduler"]


def test_schedulers_reached_through_a_factory_of_a_third_module(tmp_path):
    # train.py hands the Trainer what schedules.py's factory returns: the caller module is
    # read with the factories it calls with its objects
    from schedlint.model.tree import Tree

    (tmp_path / "engine.py").write_text(textwrap.dedent(HELPER_SOURCE))
    (tmp_path / "schedules.py").write_text(
        textwrap.dedent(
            """
            import torch

            def make_scheduler(cfg, optimizer):
                if cfg.schedule == "step":
                    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.every)
                return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
            """
        )
    )
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import torch
            from engine import Trainer
            from schedules import make_scheduler

            def main(cfg, model, loader):
                optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
                scheduler = make_scheduler(cfg, optimizer)
                Trainer(optimizer, scheduler).train_epoch(loader)
            """
        )
    )
    path = str(tmp_path / "engine.py")
    source = (tmp_path / "engine.py").read_text()
    model = build_model(path, source, cst.parse_module(source), tree=Tree(str(tmp_path)))
    assert sorted(s.cls for s in model.schedulers_reached()) == ["ExponentialLR", "StepLR"]
    assert all(model.is_foreign(s) for s in model.schedulers_reached())
    assert str(tmp_path / "schedules.py") in model.external_paths


FACTORY_METHODS = """
    import torch

    class Trainer:
        def __init__(self, model, optimizer, scheduler):
            self.optimizer = optimizer
            self.scheduler = scheduler

        @classmethod
        def from_config(cls, cfg, model):
            optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.every)
            return cls(model, optimizer, scheduler)

        @staticmethod
        def assemble(model, optimizer, scheduler):
            return Trainer(model, optimizer, scheduler)

        def train_step(self, batch):
            self.optimizer.step()
            self.scheduler.step()

    def main(cfg, model):
        optimizer = torch.optim.Adam(model.parameters())
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
        return Trainer.from_config(cfg, model), Trainer.assemble(model, optimizer, scheduler)
"""


def test_classmethod_and_staticmethod_factories_hand_the_class_their_objects():
    source = textwrap.dedent(FACTORY_METHODS)
    model = build_model("trainer.py", source, cst.parse_module(source))
    (step,) = (c for c in model.calls if c.receiver == "self.scheduler")
    # ``cls(...)`` in a classmethod builds the class; a staticmethod's first parameter is
    # the first argument, not ``self``
    assert sorted(t.cls for t in step.targets) == ["ExponentialLR", "StepLR"]
    (opt_step,) = (c for c in model.calls if c.receiver == "self.optimizer")
    assert sorted(t.cls for t in opt_step.targets) == ["Adam", "SGD"]


ORDERS = """
    import torch

    def train(model, loader, opt):
        for batch in loader:
            opt.step()

    def main(model, loader, epochs, buf):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, 30)
        for epoch in range(epochs):
            sched.step(); train(model, loader, opt)
            log(train(model, loader, opt), sched.step())
            for buf[sched.get_last_lr()[0]] in make(train(model, loader, opt)):
                wrap(opt.step)(train)(model).step()
            if epoch:
                train(model, loader, opt)
            else:
                sched.step()
"""


def test_starts_before_answers_as_the_positions_do():
    # SL203 orders calls in a loop by structure, not by positions (a codegen pass over the
    # whole module): every pair of calls in every loop, nested ones and ones in a for
    # target included, must compare as their positions do. The fixtures add real shapes.
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "fixtures" / "SL203"
    sources = [textwrap.dedent(ORDERS)]
    sources += [p.read_text() for p in sorted(root.rglob("*.py"))]
    checked = structural = 0
    for source in sources:
        module = cst.parse_module(source)
        found = _Collect()
        module.visit(found)
        loops, calls = found.loops, found.calls
        truth = build_model("x.py", source, module)
        for loop in loops:
            under = _ids_under(loop)
            inside = [c for c in calls if id(c) in under][:12]
            held = {id(c): _ids_under(c) for c in inside}
            # a pair where one call holds the other (or is it) is answered by the positions;
            # asked last, it leaves every other pair to a model that has none yet
            pairs = sorted(
                ((a, b) for a in inside for b in inside),
                key=lambda p: id(p[1]) in held[id(p[0])] or id(p[0]) in held[id(p[1])],
            )
            fresh = build_model("x.py", source, module)
            for a, b in pairs:
                answer = fresh.starts_before(a, b, loop)
                assert answer == (truth.position(a) < truth.position(b))
                checked += 1
                structural += fresh._positions is None
    assert checked > 500 and structural > checked // 2


class _Collect(cst.CSTVisitor):
    def __init__(self):
        super().__init__()
        self.loops, self.calls = [], []

    def visit_For(self, node):
        self.loops.append(node)

    def visit_While(self, node):
        self.loops.append(node)

    def visit_Call(self, node):
        self.calls.append(node)


def _ids_under(outer) -> set:
    """The ids of ``outer`` and of every node below it."""
    ids, stack = set(), [outer]
    while stack:
        n = stack.pop()
        ids.add(id(n))
        stack.extend(n.children)
    return ids


def test_a_helper_is_read_only_when_what_it_is_handed_may_carry_an_optimizer(tmp_path):
    # graph_passes.py is handed functions that touch no optimizer or scheduler: reading it
    # (torch's pre_grad.py read _inductor/utils.py this way, 0.4 s) can tell nothing. loops.py
    # is handed one that steps the scheduler and one that returns the optimizer.
    from schedlint.model.tree import Tree

    (tmp_path / "graph_passes.py").write_text(
        textwrap.dedent(
            """
            def apply_pass(fn, graph):
                for node in graph:
                    fn(node)
            """
        )
    )
    (tmp_path / "loops.py").write_text(
        textwrap.dedent(
            """
            def every_batch(loader, fn):
                for batch in loader:
                    fn(batch)

            def log_lr(current):
                print(current().param_groups[0]["lr"])
            """
        )
    )
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import torch
            from graph_passes import apply_pass
            from loops import every_batch, log_lr

            def normalize(node):
                total = 0
                for x in node:
                    total = total + x
                return total

            def main(model, loader, graph):
                optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
                scheduler = torch.optim.lr_scheduler.OneCycleLR(
                    optimizer, max_lr=0.1, total_steps=100
                )

                def train_step(batch):
                    optimizer.step()
                    scheduler.step()

                def current():
                    return optimizer

                apply_pass(normalize, graph)
                apply_pass(lambda node: node, graph)
                every_batch(loader, train_step)
                log_lr(current)
            """
        )
    )
    path = str(tmp_path / "train.py")
    source = (tmp_path / "train.py").read_text()
    model = build_model(path, source, cst.parse_module(source), tree=Tree(str(tmp_path)))
    assert str(tmp_path / "loops.py") in model.external_paths
    assert str(tmp_path / "graph_passes.py") not in model.external_paths
    assert sorted(model.externals) == ["loops.every_batch", "loops.log_lr"]


def test_a_function_handed_on_carries_what_the_functions_it_calls_act_on(tmp_path):
    from schedlint.model.tree import Tree

    (tmp_path / "loops.py").write_text(
        "def every_batch(loader, fn):\n    for batch in loader:\n        fn(batch)\n"
    )
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import torch
            from loops import every_batch

            class Runner:
                def __init__(self, optimizer, scheduler):
                    self.optimizer, self.scheduler = optimizer, scheduler

                def update(self):
                    self.optimizer.step()
                    self.scheduler.step()

            def main(model, loader):
                optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
                runner = Runner(optimizer, torch.optim.lr_scheduler.StepLR(optimizer, 30))

                def train_step(batch):
                    runner.update()

                every_batch(loader, train_step)
            """
        )
    )
    path = str(tmp_path / "train.py")
    source = (tmp_path / "train.py").read_text()
    model = build_model(path, source, cst.parse_module(source), tree=Tree(str(tmp_path)))
    assert str(tmp_path / "loops.py") in model.external_paths


def test_a_module_handed_a_web_of_widgets_is_asked_about_each_once(tmp_path, monkeypatch):
    # idlelib's configdialog.py shape: every widget is a Panel, so their attributes share
    # one slot set, and a page holds its window, its sibling pages and its own widgets.
    # Whether dashboard.py's own import is worth reading asks if the window it is handed
    # carries an optimizer; unremembered, each path through those slots was searched to the
    # depth bound (configdialog, through tkinter's Misc, ran for minutes).
    from schedlint.model.flow import Flow
    from schedlint.model.tree import Tree

    (tmp_path / "widgets.py").write_text("def bind_shortcuts(window):\n    return window\n")
    (tmp_path / "dashboard.py").write_text(
        textwrap.dedent(
            """
            from widgets import bind_shortcuts

            def show_dashboard(window):
                bind_shortcuts(window)
            """
        )
    )
    (tmp_path / "launcher.py").write_text(
        textwrap.dedent(
            """
            import torch
            from dashboard import show_dashboard


            class Panel:
                master = None


            class Window(Panel):
                def __init__(self):
                    self.fonts = FontPage(self)
                    self.colors = ColorPage(self, self.fonts)
                    self.keys = KeysPage(self, self.colors)
                    self.title = Label(self)
                    self.buttons = ButtonBar(self)


            class FontPage(Panel):
                def __init__(self, master):
                    self.master = master
                    self.sample = Preview(self)


            class ColorPage(Panel):
                def __init__(self, master, fonts):
                    self.master = master
                    self.fonts = fonts
                    self.sample = Preview(self)


            class KeysPage(Panel):
                def __init__(self, master, colors):
                    self.master = master
                    self.colors = colors
                    self.sample = Preview(self)


            class Preview(Panel):
                def __init__(self, master):
                    self.master = master


            class Label(Panel):
                def __init__(self, master):
                    self.master = master


            class ButtonBar(Panel):
                def __init__(self, master):
                    self.master = master


            def main(model, loader):
                optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
                scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 30)
                show_dashboard(Window())
                for batch in loader:
                    optimizer.step()
                scheduler.step()
            """
        )
    )
    asked = []
    may_carry = Flow.may_carry

    def counted(self, values, depth=0, strict=False):
        asked.append(depth)
        return may_carry(self, values, depth, strict)

    monkeypatch.setattr(Flow, "may_carry", counted)
    path = str(tmp_path / "launcher.py")
    source = (tmp_path / "launcher.py").read_text()
    model = build_model(path, source, cst.parse_module(source), tree=Tree(str(tmp_path)))
    assert str(tmp_path / "dashboard.py") in model.external_paths
    # no widget holds the optimizer: widgets.py can tell nothing
    assert str(tmp_path / "widgets.py") not in model.external_paths
    # the six slots of the one hierarchy, asked about once per depth (not 6 ** 5 times)
    assert len(asked) < 6 * 6 + 10


# FileModel's other lists: assignments of any name (no action of their own), loops (acting
# only over param groups), the handed lists (acting), and lists of things without a scope
# (an Accelerator's construction acts through the calls on it).
_NOT_ACTING = {"rebinds", "loops", "listed_args", "scopes", "classes", "group_keys"}
_NOT_ACTING |= {"accelerators"}
# ignite engines and event handlers: the steps in their functions are the calls' own facts
_NOT_ACTING |= {"ignite_engines", "ignite_handlers"}
_NOT_ACTING |= {"flow_assigns", "flow_fors", "flow_calls", "external_models", "importers"}
# calls kept aside until their module shows a scheduler class: facts (acting) only then
_NOT_ACTING |= {"imported_constructions", "imported_optimizers"}
# ... or until the module of the registry they pick from shows its classes
_NOT_ACTING |= {"registry_calls"}
# calls of a parameter kept aside until every call hands it a scheduler class: likewise
_NOT_ACTING |= {"parameter_constructions"}
# ... or until the class binds the attribute to one; those no call of their module settles
_NOT_ACTING |= {"attribute_constructions", "class_parameter_calls"}
# another module's construction, settled for a call here: none of this file's facts
_NOT_ACTING |= {"handed_constructions"}
# how imports resolve (a package's ``import *``, a module's imports followed a level further)
_NOT_ACTING |= {"star_imports", "deeper_externals"}


def test_every_fact_list_says_whether_it_makes_its_scope_act():
    """A list added to FileModel must be named in ACTING_FACTS (the value flow then reads the
    helpers and classes whose code records it) or in _NOT_ACTING."""
    import dataclasses

    from schedlint.model.facts import ACTING_FACTS, FileModel

    lists = {f.name for f in dataclasses.fields(FileModel) if f.type in ("list", list)}
    assert lists == set(ACTING_FACTS) | _NOT_ACTING
    acting = {s.name for s in _model().acting_scopes()}
    assert acting >= {"train_one_epoch", "main"}
