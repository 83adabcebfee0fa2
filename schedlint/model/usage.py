"""How schedulers and optimizers are used: queries the scheduler/optimizer rules (SL2xx, and
SL3xx for names and branches) ask of a FileModel, so that no rule reads syntax itself.

Two questions every SL2xx rule asks before it fires:

- *What is this receiver?* :class:`Names` (``names_of(model)``, built once per file) answers
  with every scheduler construction the name can hold, or ``None`` when the name may also
  hold something the model cannot see
  (a timm scheduler from a factory, a value unpacked from a call, a function argument). Rules
  fire only when every possibility qualifies, so a timm ``scheduler.step(epoch)`` is never
  taken for a torch one.
- *Do these two statements run together?* :class:`Branches` gives each node the ``if``/``else``
  branches it sits in, so a warm-up scheduler stepped in the ``if`` and the main one in the
  ``else`` are known to be a hand-off, not a fight (``branches_of(model)``, shared by the
  rules). Computed only for the scopes a rule asks about (the walk is cheap, but most files
  never need it).

The rest answers small questions about facts a rule holds: the words of a name
(:func:`words`, :func:`sized_in`), a rebinding's value (:func:`rebound_value`), a step
argument's form (:func:`plus_one`), the functions a loop calls and the optimizer steps in
them (:func:`callee_optimizer_steps`), and the edits of a fix (:func:`args_edit`,
:func:`method_edit`).
"""

from __future__ import annotations

import re

import libcst as cst

from schedlint.model import catalogue
from schedlint.model.builder import binding_key, dotted_name
from schedlint.model.cstwalk import children
from schedlint.model.facts import MethodCall, Optimizer, Scheduler
from schedlint.model.numbers import fold_number

# Schedulers whose behaviour the catalogue knows: torch classes and transformers factories.
KNOWN_ORIGINS = ("torch", "transformers")
# Wrappers that hand the same scheduler back (and forward step/get_last_lr to it).
_TRANSPARENT_WRAPPERS = frozenset({"prepare"})


def is_known(sched) -> bool:
    return isinstance(sched, Scheduler) and sched.origin in KNOWN_ORIGINS


def _rebind_is_transparent(rebind, name: str, optimizer: bool) -> bool:
    """``x = None`` or ``x, y = accelerator.prepare(x, y)``: still the same object (or none).

    An optimizer wrapped by any call that receives it (``hvd.DistributedOptimizer(opt)``,
    ``amp.initialize(model, opt)``) keeps its param groups; a scheduler wrapped by an unknown
    call may not keep its ``step`` API (a warm-up wrapper taking ``after_scheduler=sched``).
    """
    stmt = rebind.node
    value = getattr(stmt, "value", None)
    if isinstance(value, cst.Name) and value.value == "None":
        return True
    if isinstance(value, cst.Call) and (
        optimizer
        or isinstance(value.func, cst.Attribute)
        and value.func.attr.value in _TRANSPARENT_WRAPPERS
    ):
        return any(dotted_name(a.value) == name for a in value.args)
    return False


def _holds_scheduler_partial(model, rebind) -> bool:
    """``self.scheduler = scheduler`` (or ``= partial(StepLR, ...)``) of a
    ``functools.partial`` of a scheduler class that a later ``self.scheduler =
    self.scheduler(optimizer)`` builds: until then it has no ``step()`` to call, so it hides
    no other scheduler."""
    value = getattr(rebind.node, "value", None)
    if not isinstance(value, (cst.Name, cst.Attribute, cst.Call)) or not any(
        s.partial is not None for s in model.schedulers
    ):
        return False
    return model.flow.partial_only(value, rebind.scope)


_EMPTY_KEYS = frozenset()


def _object_key(entity) -> tuple:
    """A key for an object built in another module: its binding keys name that module's
    scopes, whose ids may equal this file's."""
    return ("object", id(entity))


class Names:
    """Index of what each binding key can hold, built once per model and rule run."""

    def __init__(self, model):
        self.model = model
        self.entities = {}
        for ent in (*model.optimizers, *model.schedulers):
            if ent.key is not None:
                self.entities.setdefault(ent.key, []).append(ent)
        self._opt_keys = {}
        self.opaque = set()
        for rebind in model.rebinds:
            if rebind.key is None or rebind.key not in self.entities:
                continue
            optimizer = all(isinstance(e, Optimizer) for e in self.entities[rebind.key])
            if not _rebind_is_transparent(
                rebind, rebind.target, optimizer
            ) and not _holds_scheduler_partial(model, rebind):
                self.opaque.add(rebind.key)

    def holds(self, scope, text) -> list | None:
        """Every construction ``text`` (read in ``scope``) can name, or None if unknown."""
        key = binding_key(scope, text)
        if key is None or key in self.opaque:
            return None
        # a parameter, a loop over a container, an attribute set in another class of the
        # hierarchy, a factory's result: what the value flow says, when it is certain
        return self.entities.get(key) or self.model.holds_only(scope, text)

    def schedulers(self, call: MethodCall) -> list | None:
        """The known (torch/transformers) schedulers a call's receiver can be, else None."""
        ents = self.holds(call.scope, call.receiver)
        if not ents or not all(is_known(e) for e in ents):
            return None
        return ents

    def scheduler(self, call: MethodCall) -> Scheduler | None:
        """The one known scheduler a call's receiver is, else None."""
        ents = self.schedulers(call)
        if ents is None or len(ents) != 1 or call.target is not ents[0]:
            return None
        return ents[0]

    def choices(self, call: MethodCall) -> list:
        """The known schedulers a call's receiver is under some configuration: the one it
        certainly is, or each of the alternatives one factory returns
        (``return CosineAnnealingLR(...)`` under ``if cfg.schedule == "cosine":``, ``return
        StepLR(...)`` under another test): one call of it hands back one of them. [] when
        the receiver may hold schedulers of different origins."""
        one = self.scheduler(call)
        if one is not None:
            return [one]
        ents = self.schedulers(call)
        if ents is None:
            # one arm of the factory builds a scheduler class of the project's own
            # (``WarmupMultiStepLR(...)`` next to ``CosineAnnealingLR(...)``): the torch
            # alternatives are still each what one configuration gets
            held = self.holds(call.scope, call.receiver)
            if (
                held
                and all(isinstance(e, Scheduler) for e in held)
                and any(is_known(e) for e in held)
                and self._one_variable(held)
            ):
                ents = held
        if not ents or any(e.parent is not None for e in ents):
            return []
        if any(e.target is not None for e in ents) and not self._one_variable(ents):
            return []
        scopes = list({id(e.scope): e.scope for e in ents}.values())
        # one factory: the scope of every alternative, or the only one calling the helpers
        # that build the others (``return cosine_with_warmup(optimizer, ...)`` in one arm)
        factory = [f for f in scopes if all(s is f or self._only_called_from(s, f) for s in scopes)]
        if len(factory) != 1 or factory[0].kind != "function":
            return []
        return ents

    def _one_variable(self, ents) -> bool:
        """The schedulers are the alternatives of one variable: the candidates of one
        registry call (``scheduler = AVAI_SCH[name](optimizer)``), or each bound to the same
        name in a different arm of one ``if`` chain (``scheduler = StepLR(...)`` under
        ``if name == "step":``, ``scheduler = CosineAnnealingLR(...)`` under ``elif``), so
        only one of them is ever built by one call of the factory."""
        first = ents[0]
        if any(e.target != first.target or e.scope is not first.scope for e in ents):
            return False
        if all(e.node is first.node for e in ents):
            return True
        branches = branches_of(self.model)
        paths = [branches.path(e) for e in ents]
        return all(Branches.exclusive(a, b) for i, a in enumerate(paths) for b in paths[i + 1 :])

    def _only_called_from(self, scope, caller) -> bool:
        """Every call of the function ``scope`` is made in the function ``caller``."""
        sites = self.model.flow.callers.get(id(scope), ())
        return scope.kind == "function" and bool(sites) and all(c[0] is caller for c in sites)

    def optimizer_key(self, sched) -> tuple | None:
        """The binding key of the optimizer variable ``sched`` was built on, when that variable
        is not rebound to something else after the construction (the optimizer itself may come
        from a factory or a parameter: the variable is what ties the calls together)."""
        if sched.optimizer_src is None and sched.children:
            return self.optimizer_key(sched.children[0])
        key = binding_key(sched.scope, sched.optimizer_src)
        if key is None or sched.optimizer_src in ("self", "cls"):
            return None
        if built_per_entry(sched):
            # built per entry of a container (``{n: StepLR(o) for n, o in
            # self.optimizers.items()}``): the loop variable ties nothing once the loop is
            # over; the optimizer object, when it is the only one, does
            opts = self.model.holds_only(sched.scope, sched.optimizer_src)
            if opts and len(opts) == 1 and isinstance(opts[0], Optimizer):
                return _object_key(opts[0])
        if sched.scope.kind == "function" and sched.optimizer_src in sched.scope.params:
            # built by a factory (``build_scheduler(optimizer, ...)``): its parameter ties
            # nothing together; the caller's variable does, when it is the one optimizer
            # handed in and is never rebound; a factory of another module called from
            # another module still: the optimizer object itself
            key = self._handed_in(sched)
            if key is None and self.model.is_foreign(sched):
                # its facts were resolved in its own module, which never saw the caller
                opts = sched.optimizers or self.model.holds_only(sched.scope, sched.optimizer_src)
                if opts and len(opts) == 1 and isinstance(opts[0], Optimizer):
                    return _object_key(opts[0])
            return key
        if self.model.is_foreign(sched):
            # built in another module (and handed to a class here): its variables are not
            # this file's, the optimizer object itself ties the calls together; the arms of
            # one factory's ``if`` (``getattr(torch.optim, name)(params, momentum=m)`` or
            # without momentum) are one variable's alternatives: the first stands for them
            opts = sched.optimizers or [
                o
                for o in self.model.holds_only(sched.scope, sched.optimizer_src) or ()
                if isinstance(o, Optimizer)
            ]
            if opts and all(o.scope is opts[0].scope and o.target == opts[0].target for o in opts):
                return _object_key(opts[0]) if opts[0].target or len(opts) == 1 else None
            return None
        if key not in self._opt_keys:
            self._opt_keys[key] = self._stable_after(key)
        stable_after = self._opt_keys[key]
        if (
            stable_after is None
            or stable_after > sched.order
            and not self._same_scope_before(key, sched)
        ):
            return None
        return key

    def _handed_in(self, sched) -> tuple | None:
        scope, name = sched.scope, sched.optimizer_src
        for _ in range(3):
            args = self.model.arguments(scope, name)
            if args and scope is not sched.scope and self.model.is_foreign(scope):
                # a forwarder of another module (``DefaultTrainer.build_lr_scheduler(cls,
                # cfg, optimizer)``): the calls here are the ones this file's code runs
                args = [a for a in args if not self.model.is_foreign(a[0])]
            if not args or len(args) != 1:
                return None  # called with several optimizers, or one the flow cannot bind
            caller, node = args[0]
            text = dotted_name(node)
            if text is None or text in ("self", "cls"):
                return None
            if self.model.is_foreign(caller):
                if not self._passes_through(caller, text):
                    return None
                scope, name = caller, text
                continue
            if not self._passes_through(caller, text):
                break
            # a wrapper handing its own parameter on (``def _get_scheduler(self,
            # optimizer): return get_scheduler(cfg.name, optimizer, ...)``): its callers'
            # variable is the one the optimizer is stepped by
            scope, name = caller, text
        if self.model.is_foreign(caller):
            return None
        key = binding_key(caller, text)
        if key is None or any(isinstance(e, Scheduler) for e in self.entities.get(key, ())):
            return None
        binds = [
            r
            for r in self.model.rebinds
            if r.key == key and not _rebind_is_transparent(r, r.target, True)
        ] + list(self.entities.get(key, ()))
        return key if len(binds) <= 1 else None

    def _passes_through(self, scope, name) -> bool:
        """``name`` is a parameter of the function ``scope`` that it only hands on: never
        rebound there, and no call of the file acts on it there."""
        return (
            scope.kind == "function"
            and name in scope.params
            and name not in scope.assigned
            and not any(c.scope is scope and c.receiver == name for c in self.model.calls)
        )

    def _stable_after(self, key):
        """Order after which ``key`` is never rebound to another object (None: never stable,
        e.g. it also names a scheduler)."""
        if any(isinstance(e, Scheduler) for e in self.entities.get(key, ())):
            return None
        # ``opts[0]``: rebinding the container ``opts`` rebinds its entries too
        keys = {key, key[:-1] + (key[-1].partition("[")[0],)}
        last = 0
        for r in self.model.rebinds:
            if r.key in keys and not _rebind_is_transparent(r, r.target, True):
                last = max(last, r.order)
        for e in self.entities.get(key, ()):
            last = max(last, e.order)
        return last

    def _same_scope_before(self, key, sched):
        """Every (re)binding of ``key`` in ``sched``'s scope is before it, and, unless ``key`` is
        an attribute of ``self`` (set up by whichever method, in whatever order the methods
        are written), there is none elsewhere."""
        binds = [
            r
            for r in self.model.rebinds
            if r.key == key and not _rebind_is_transparent(r, r.target, True)
        ] + list(self.entities.get(key, ()))
        if key[0] == "class":
            return all(b.order < sched.order for b in binds if b.scope is sched.scope)
        return all(b.scope is sched.scope and b.order < sched.order for b in binds)

    def call_optimizer_keys(self, call) -> frozenset:
        """The keys of what a ``opt.step()`` / ``scaler.step(opt)`` call steps: the optimizer
        variable, and the optimizer object itself when the flow knows it (the key of an
        optimizer built in another module, or in a container: ``self.optimizers['disc']``
        of a dict comprehension)."""
        if call.method != "step":
            return _EMPTY_KEYS
        if call.via is not None:
            # a step an imported helper makes, anchored at the call here: its texts are the
            # helper's; what it steps is the optimizer this call hands it
            opt = call.target if isinstance(call.target, Optimizer) else call.optimizer_arg
            if opt is None:
                return _EMPTY_KEYS
            if self.model.is_foreign(opt):
                return frozenset((_object_key(opt),))
            return frozenset((opt.key, _object_key(opt)))
        if isinstance(call.target, Optimizer):
            if self.model.is_foreign(call.target):
                # built by another module's factory and kept in a variable here
                # (``self.optimizer = build_optimizer(cfg, model)``): a scheduler a factory
                # builds on that variable is tied to it, as for an optimizer the flow cannot see
                return frozenset((_object_key(call.target), binding_key(call.scope, call.receiver)))
            return frozenset((call.target.key, _object_key(call.target)))
        if call.target is not None:
            return _EMPTY_KEYS
        alternatives = call.targets
        if (
            len(alternatives) > 1
            and all(isinstance(t, Optimizer) and self.model.is_foreign(t) for t in alternatives)
            and all(
                t.scope is alternatives[0].scope and t.target == alternatives[0].target
                for t in alternatives
            )
        ):
            # one variable of another module's factory, built in either arm of an ``if``
            return frozenset(_object_key(t) for t in alternatives)
        if (
            call.args
            and call.args[0].ref
            and call.receiver.rpartition(".")[2].lower().endswith("scaler")
        ):
            key = binding_key(call.scope, call.args[0].ref)
            if call.optimizer_arg is not None:
                return frozenset((key, _object_key(call.optimizer_arg)))
            return frozenset((key,))
        return frozenset((binding_key(call.scope, call.receiver),))

    def optimizer_steps(self, key, scope=None, through_helpers=False):
        """Calls that step the optimizer variable (or object) ``key`` (in ``scope`` when
        given); with ``through_helpers``, also the calls here of imported helpers that step
        it (``utils.train_one_epoch(model, loader, optimizer, scaler)``: each such call
        stands for every step the helper makes, in whatever loop of its own)."""
        calls = self.model.calls
        if through_helpers:
            calls = calls + self.model.calls_via_imports
        return [
            c
            for c in calls
            if c.method == "step"
            and (scope is None or c.scope is scope)
            and (
                key in self.call_optimizer_keys(c)
                # an optimizer a factory built is stepped through the caller's variable
                or isinstance(c.target, Optimizer)
                and binding_key(c.scope, c.receiver) == key
            )
        ]


def built_per_entry(sched) -> bool:
    """``sched`` is built on a loop variable, once per entry of a container of optimizers
    (``{n: StepLR(o) for n, o in self.optimizers.items()}``)."""
    if sched.optimizer_src is None:
        return False
    head = sched.optimizer_src.partition(".")[0].partition("[")[0]
    return any(head in loop.targets for loop in sched.loops)


def stepped_units(model, sched):
    """The ``step()`` calls that step ``sched``: its own, or its composite parents'."""
    calls = list(model.steps_of(sched))
    parent = sched.parent
    while parent is not None:
        calls += model.steps_of(parent)
        parent = parent.parent
    return calls


# -- branches -----------------------------------------------------------------------------------
_EXITS = (cst.Continue, cst.Break, cst.Return, cst.Raise)


def _ends_with_exit(block) -> bool:
    body = getattr(block, "body", ())
    if not body:
        return False
    last = body[-1]
    if isinstance(last, cst.SimpleStatementLine):
        return any(isinstance(s, _EXITS) for s in last.body)
    return False


class Branches:
    """The ``if`` branches each node of a scope runs in: a tuple of (If node, "body"|"else")."""

    def __init__(self, model=None):  # model: the FileModel.shared builder signature
        self._paths = {}
        self._done = set()

    def path(self, fact) -> tuple:
        return self.path_in(fact.node, fact.scope.node)

    def path_in(self, node, root) -> tuple:
        """The branches ``node`` (any node of the scope ``root``) runs in."""
        if id(root) not in self._done:
            self._done.add(id(root))
            self._walk(root)
        return self._paths.get(id(node), ())

    def _walk(self, root):
        paths = self._paths
        scoped = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
        stack = [(root.body if isinstance(root, scoped) else root, ())]
        while stack:
            node, path = stack.pop()
            paths[id(node)] = path
            if isinstance(node, scoped):
                continue  # their own scope, walked when asked
            if isinstance(node, cst.If):
                stack.append((node.test, path))
                stack.append((node.body, path + ((node, "body"),)))
                if node.orelse is not None:
                    stack.append((node.orelse, path + ((node, "else"),)))
                continue
            if isinstance(node, cst.IfExp):
                stack.append((node.test, path))
                stack.append((node.body, path + ((node, "body"),)))
                stack.append((node.orelse, path + ((node, "else"),)))
                continue
            if isinstance(node, cst.Match):
                stack.append((node.subject, path))
                for i, case in enumerate(node.cases):
                    stack.append((case, path + ((node, i),)))
                continue
            body = getattr(node, "body", None)
            if isinstance(node, (cst.IndentedBlock, cst.Module)) and isinstance(
                body, (list, tuple)
            ):
                # `if warmup: ...; continue` makes the rest of the block its else branch.
                extra = path
                for stmt in body:
                    stack.append((stmt, extra))
                    if (
                        isinstance(stmt, cst.If)
                        and stmt.orelse is None
                        and _ends_with_exit(stmt.body)
                    ):
                        extra = extra + ((stmt, "else"),)
                inside = {id(stmt) for stmt in body}
                stack.extend((child, path) for child in children(node) if id(child) not in inside)
                continue
            stack.extend((child, path) for child in children(node))

    @staticmethod
    def exclusive(p1, p2) -> bool:
        """True when the two paths take different branches of one ``if``: never both run."""
        branch = {id(n): b for n, b in p1}
        return any(id(n) in branch and branch[id(n)] != b for n, b in p2)


def if_test(model, if_node):
    """The Value of the test of an ``if`` (a branch node of a path)."""
    return model.value(if_node.test)


def floor_clamp(model, branches, write) -> bool:
    """``write`` pins the lr at a floor it fell below: ``if <lr> < floor: g["lr"] = floor``
    (also ``floor > <lr>``, ``<=``), or ``g["lr"] = max(g["lr"], floor)``. A chainable
    scheduler decays from the lr in the group, so the floor holds between its steps."""
    value = write.value.node
    if isinstance(value, cst.Call) and dotted_name(value.func) == "max" and len(value.args) == 2:
        return write.reads_current_lr
    floor = model.code(value)
    for node, arm in branches.path(write):
        test = getattr(node, "test", None)
        if arm != "body" or not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            continue
        op = test.comparisons[0].operator
        left, right = test.left, test.comparisons[0].comparator
        if isinstance(op, (cst.GreaterThan, cst.GreaterThanEqual)):
            left, right = right, left
        elif not isinstance(op, (cst.LessThan, cst.LessThanEqual)):
            continue
        if model.code(right) == floor and _reads_lr(model, left):
            return True
    return False


def _reads_lr(model, node) -> bool:
    """``opt.param_groups[0]["lr"]``, ``group["lr"]``, ``scheduler.get_last_lr()[0]``."""
    text = model.code(node)
    return "get_last_lr" in text or bool(re.search(r"""\[\s*["']lr["']\s*\]""", text))


_NEWER = {
    cst.GreaterThan: "body",
    cst.GreaterThanEqual: "body",
    cst.LessThan: "else",
    cst.LessThanEqual: "else",
}


def newer_torch_arm(model, if_node) -> str | None:
    """The arm ("body" or "else") of a branch node that runs on a newer torch, when its test
    compares ``torch.__version__`` (``version.parse(torch.__version__) >= version.parse("1.4")``)
    or asks ``hasattr(x, "get_last_lr")``; else None. Compatibility code keeps the old API in
    the other arm, which a current torch never runs."""
    test = getattr(if_node, "test", None)
    if isinstance(test, cst.Call) and dotted_name(test.func) == "hasattr" and len(test.args) == 2:
        return "body" if "get_last_lr" in model.code(test.args[1].value) else None
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    arm = _NEWER.get(type(test.comparisons[0].operator))
    if arm is None:
        return None
    if "__version__" in model.code(test.left):
        return arm
    if "__version__" in model.code(test.comparisons[0].comparator):
        return "else" if arm == "body" else "body"
    return None


def is_if(node) -> bool:
    """A branch node of a path is an ``if`` statement (not a conditional expression or a
    ``match``)."""
    return isinstance(node, cst.If)


def skips_rest(if_node) -> bool:
    """An ``if`` without ``else`` whose body ends by leaving the block (``if (i + 1) %
    accum != 0: continue``): the rest of the block is its else branch, as a path says."""
    return isinstance(if_node, cst.If) and if_node.orelse is None and _ends_with_exit(if_node.body)


def guard_of(if_node) -> str | None:
    """``x`` for ``if x:``, ``if x is not None:``, ``if self.x:``: a test of presence only."""
    test = if_node.test
    if (
        isinstance(test, cst.Comparison)
        and len(test.comparisons) == 1
        and isinstance(test.comparisons[0].operator, cst.IsNot)
        and isinstance(test.comparisons[0].comparator, cst.Name)
        and test.comparisons[0].comparator.value == "None"
    ):
        test = test.left
    return dotted_name(test)


def conditions(path, ignore=()) -> tuple:
    """The branch path without presence tests of the names in ``ignore``."""
    return tuple(
        (n, b)
        for n, b in path
        if not (isinstance(n, cst.If) and b == "body" and guard_of(n) in ignore)
    )


# -- names that say "epoch" or "iteration" ------------------------------------------------------
_WORD = re.compile(r"[a-z]+")
ITER_WORDS = frozenset(
    {
        "step",
        "steps",
        "iter",
        "iters",
        "iteration",
        "iterations",
        "batch",
        "batches",
        "loader",
        "loaders",
        "dataloader",
        "update",
        "updates",
        "len",
        "niter",
        "niters",
        "nsteps",
        "nbatches",
        "tokens",
        "samples",
    }
)
BATCH_LOOP_WORDS = frozenset(
    {
        "loader",
        "loaders",
        "dataloader",
        "batch",
        "batches",
        "data",
        "dataset",
        "iterator",
        "dl",
        "minibatch",
        "minibatches",
    }
)
ACCUMULATION_WORDS = frozenset(
    {
        "accum",
        "accumulation",
        "accumulate",
        "micro",
        "microbatch",
        "microbatches",
        "chunk",
        "chunks",
        "grad",
    }
)


def is_epoch_word(w: str) -> bool:
    return w in ("ep", "eps") or w.endswith("epoch") or w.endswith("epochs")


def words(value) -> set:
    """The lower-case words of every name and attribute in an expression."""
    out = set()
    stack = [value.node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name):
            out |= set(_WORD.findall(n.value.lower()))
            continue
        if isinstance(n, cst.Attribute):
            out |= set(_WORD.findall(n.attr.value.lower()))
        stack.extend(children(n))
    return out


def unit_words(value) -> set:
    """:func:`words`, but a name that ends in an epoch word counts epochs whatever it says
    before: ``lr_step_epochs`` is a count of epochs (the "step" is StepLR's), while
    ``steps_per_epoch`` (a "per" in it) stays a count of steps."""
    out = set()
    stack = [value.node]
    while stack:
        n = stack.pop()
        text = n.value if isinstance(n, cst.Name) else None
        if isinstance(n, cst.Attribute):
            text = n.attr.value
            stack.extend(children(n))
        elif not isinstance(n, cst.Name):
            stack.extend(children(n))
        if text is None:
            continue
        found = _WORD.findall(text.lower())
        if found and is_epoch_word(found[-1]) and "per" not in found:
            found = [w for w in found if w not in ITER_WORDS]
        out |= set(found)
    return out


def config_key_words(value) -> set:
    """The lower-case words of the last string key of each subscript chain in an expression:
    ``epochs`` of ``cfg["epochs"]`` and of ``cfg["train"]["epochs"]`` (not ``train``), which
    name a count the way ``args.epochs`` does."""
    out = set()
    stack = [(value.node, True)]
    while stack:
        n, last = stack.pop()
        if isinstance(n, cst.Subscript):
            if last and len(n.slice) == 1:
                index = getattr(n.slice[0].slice, "value", None)
                if isinstance(index, cst.SimpleString):
                    out |= set(_WORD.findall(index.raw_value.lower()))
            stack.append((n.value, False))
            stack.extend((c, True) for c in children(n) if c is not n.value)
            continue
        if isinstance(n, cst.Attribute):
            stack.append((n.value, False))
            continue
        stack.extend((c, True) for c in children(n))
    return out


def _scaled_count(node) -> bool:
    """``epochs * epoch_length``: an epoch count times another count (not a literal) is a
    number of iterations in disguise, not a number of epochs."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        sides = (node.left, node.right)
        return all(not isinstance(s, (cst.Integer, cst.Float)) for s in sides)
    return False


def sized_in(values) -> str | None:
    """ "epochs" when the length expressions speak only of epochs, "iterations" when they speak
    of steps, batches or a loader's length, else None (unknown, a literal, or both)."""
    found = set()
    for v in values:
        if v is None:
            continue
        w = unit_words(v) | config_key_words(v)
        if w & ITER_WORDS:
            found.add("iterations")
        elif any(is_epoch_word(x) for x in w if x != "eps") and not _scaled_count(v.node):
            found.add("epochs")
        else:
            found.add("unknown")
    if found == {"epochs"}:
        return "epochs"
    if found == {"iterations"}:
        return "iterations"
    return None


def loop_words(loop) -> set:
    out = set()
    if loop.iter is not None:
        out |= words(loop.iter)
    for t in loop.targets:
        out |= set(_WORD.findall(t.lower()))
    return out


def is_epoch_loop(loop) -> bool:
    return any(is_epoch_word(w) for w in loop_words(loop))


def is_known_class(sched, *names) -> bool:
    return is_known(sched) and sched.cls in names


def closed_form(sched) -> bool:
    if sched.cls == "SequentialLR":
        return any(closed_form(c) for c in sched.children)
    return sched.closed_form


def kind_words(sched) -> str:
    if sched.cls in catalogue.TRANSFORMERS_FACTORIES:
        return f"`{sched.cls}` (a LambdaLR, closed form)"
    if closed_form(sched):
        return f"`{sched.cls}` (closed form)"
    if sched.chainable:
        return f"`{sched.cls}` (chainable)"
    return f"`{sched.cls}`"


def unconverted(model, value):
    """The value inside a number conversion (``float(max_epoch)``, ``int(total)``), which
    counts what its argument counts; ``value`` itself otherwise."""
    node = value.node
    if (
        value.kind == "call"
        and value.call in ("float", "int")
        and len(node.args) == 1
        and not node.args[0].star
        and node.args[0].keyword is None
    ):
        return model.value(node.args[0].value)
    return value


def class_text(sched) -> str:
    """The class a message names: each candidate of a registry pick (``OneCycleLR/CyclicLR``)
    rather than the base class it is recorded under."""
    return "/".join(sched.candidates) if sched.candidates else sched.cls


def name_of(sched) -> str:
    return f"`{sched.target}`" if sched.target else f"the `{class_text(sched)}`"


def enclosing_class(model, scope):
    """The ClassInfo whose body (or a method of which) ``scope`` is, else None."""
    for s in scope.function_chain():
        if s.cls is not None:
            return s.cls
        if s.kind == "class":
            return next((c for c in model.classes if c.node is s.node), None)
    return None


def runs_for_builder(model, call, sched) -> bool:
    """Whether ``call``, in a method of a base class, can run on the instance that holds
    ``sched``: False when ``sched`` is built in a method of a subclass (here or in a module
    handing it to the base through ``super().__init__``) whose method resolution finds an
    override of the calling method before the base's, one that never calls the base's
    (``MetricWrapper.step(metric)`` overriding ``Wrapper.step()``). True when unsure."""
    owner = call.scope.cls
    built_in = sched.scope.cls
    if owner is None or built_in is None or built_in is owner:
        return True
    name = call.scope.name
    classes = model.classes + [
        c
        for c in model.flow.model_of(sched.scope).classes
        if all(c is not k for k in model.classes)
    ]
    # left to right, depth first: Python's method resolution for single inheritance and
    # for a mixin listed before the base
    todo, seen = [built_in], []
    while todo and len(seen) < 16:
        cls = todo.pop(0)
        if any(cls is s for s in seen):
            continue
        seen.append(cls)
        if cls is owner:
            return True
        method = cls.methods.get(name)
        if method is not None:
            return method.extends_super
        bases = []
        for base in cls.bases:
            found = [c for c in classes if c.name == base.rpartition(".")[2] and c is not cls]
            if len(found) != 1:
                return True  # a base not seen, or not told apart: it may be anything
            bases.append(found[0])
        todo = bases + todo
    return True


def in_scheduler_class(model, scope) -> bool:
    for s in scope.function_chain():
        cls = (
            s.cls
            if s.cls is not None
            else (
                next((c for c in model.classes if c.node is s.node), None)
                if s.kind == "class"
                else None
            )
        )
        if cls is not None and cls.looks_like_scheduler:
            return True
    return False


def call_node_of(sched):
    """The constructor Call of a Scheduler fact (its node is the statement when assigned)."""
    node = sched.node
    if isinstance(node, cst.Call):
        return node
    value = getattr(node, "value", None)
    return value if isinstance(value, cst.Call) else None


def has_star_args(call) -> bool:
    """A method call with ``*args`` or ``**kwargs``: its arguments are not all seen."""
    return any(a.star for a in call.node.args)


def built_with_star_args(sched) -> bool:
    """A scheduler constructed with ``*args`` or ``**kwargs``: some of its arguments (its
    ``mode``, say) are not seen."""
    call = call_node_of(sched)
    return call is None or any(a.star for a in call.args)


def value_name(node) -> str | None:
    """The name a value is read under, for judging what it holds: the last attribute of a
    name or attribute chain (``val_acc``, ``self.best_acc1`` -> ``best_acc1``), or the string
    key of a subscript or ``.get`` (``metrics["accuracy"]``, ``logs.get("val_loss")``);
    None for anything computed (``-acc``, ``1 - acc``, ``evaluate(model)``)."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    key = None
    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        key = getattr(node.slice[0].slice, "value", None)
    elif (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "get"
        and node.args
        and node.args[0].keyword is None
        and not node.args[0].star
    ):
        key = node.args[0].value
    if isinstance(key, cst.SimpleString):
        value = key.evaluated_value
        return value if isinstance(value, str) else None
    return None


# Calls that hand a metric back with its order kept: a metric rounded for logging or for a
# stable comparison (`round(loss, 3)`, `math.ceil(loss * 1000) / 1000`) still runs the same way.
_ORDER_KEEPING_CALLS = frozenset({"float", "int", "round", "ceil", "floor"})
_ORDER_KEEPING_METHODS = frozenset({"item", "mean", "detach", "cpu"})


def _positive_literal(node) -> bool:
    value = fold_number(node)
    return isinstance(value, (int, float)) and value > 0


def order_kept_name(node) -> str | None:
    """:func:`value_name` of a value, also seen through wrappers that keep its order:
    ``loss.item()``, ``float(acc)``, ``round(acc, 4)``, ``math.ceil(loss * 1000.0) / 1000.0``
    (a scaling by a positive literal); None for anything else (``-loss``, ``1 - acc``)."""
    while True:
        name = value_name(node)
        if name is not None:
            return name
        if isinstance(node, cst.Call):
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value in _ORDER_KEEPING_METHODS:
                if node.args:
                    return None
                node = func.value
                continue
            callee = dotted_name(func)
            first = node.args[0] if node.args else None
            if (
                callee is None
                or callee.rsplit(".", 1)[-1] not in _ORDER_KEEPING_CALLS
                or first is None
                or first.keyword is not None
                or first.star
            ):
                return None
            node = first.value
            continue
        if isinstance(node, cst.BinaryOperation) and isinstance(
            node.operator, (cst.Multiply, cst.Divide)
        ):
            if _positive_literal(node.right):
                node = node.left
                continue
            if isinstance(node.operator, cst.Multiply) and _positive_literal(node.left):
                node = node.right
                continue
        return None


def plus_one(value) -> str | None:
    """``e`` for the expression ``e + 1`` (a bare name plus the literal 1), else None."""
    node = value.node
    if (
        isinstance(node, cst.BinaryOperation)
        and isinstance(node.operator, cst.Add)
        and isinstance(node.left, cst.Name)
        and isinstance(node.right, cst.Integer)
        and node.right.value == "1"
    ):
        return node.left.value
    return None


def starts_at_zero(loop) -> bool:
    """``for e in range(n)`` / ``range(0, n)``."""
    it = loop.iter
    if it is None or it.kind != "call" or it.call != "range":
        return False
    args = it.node.args
    return (
        len(args) == 1
        or len(args) >= 2
        and args[0].keyword is None
        and getattr(args[0].value, "value", None) == "0"
    )


def _test_key(model, test) -> tuple | None:
    """(what ``test`` asks, whether it asks it): ``it >= warmup`` is ``it < warmup`` negated,
    ``b > a`` is ``a < b``, ``not done`` is ``done`` negated; None for any other test."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = _test_key(model, test.expression)
        return None if inner is None else (inner[0], not inner[1])
    if isinstance(test, (cst.Name, cst.Attribute)):
        return ("truth", model.code(test)), True
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
        return None
    (target,) = test.comparisons
    op = type(target.operator)
    left, right = model.code(test.left), model.code(target.comparator)
    if op in (cst.GreaterThan, cst.GreaterThanEqual):
        left, right = right, left  # ``b > a`` asks ``a < b``; ``b >= a`` asks ``a <= b``
        op = cst.LessThan if op is cst.GreaterThan else cst.LessThanEqual
    if op is cst.LessThan:
        return ("<", left, right), True
    if op is cst.LessThanEqual:
        return ("<", right, left), False  # ``a <= b`` is ``b < a`` negated
    if op in (cst.Equal, cst.NotEqual):
        return ("==", *sorted((left, right))), op is cst.Equal
    return None


def complementary(model, path, other) -> bool:
    """Two branch paths of one scope that never run in the same pass: one runs under a test
    the other runs under the negation of (``if it < warmup:`` then ``if it >= warmup:``,
    ``if warming_up:`` then ``if not warming_up:``, or one test's body and another's else),
    each an ``if`` of its own."""
    asked = {}
    for node, branch in path:
        if isinstance(node, cst.If):
            key = _test_key(model, node.test)
            if key is not None:
                asked[key[0]] = (node, key[1] == (branch == "body"))
    for node, branch in other:
        if isinstance(node, cst.If):
            key = _test_key(model, node.test)
            if key is not None and key[0] in asked:
                mine, holds = asked[key[0]]
                if mine is not node and holds != (key[1] == (branch == "body")):
                    return True
    return False


def in_leading_phase(model, path, counters) -> bool:
    """Some ``if`` of ``path`` runs its branch only while one of ``counters`` is below a
    bound (``if epoch < warmup:``, ``if epoch <= warmup_epochs:``, the ``else`` of ``if
    epoch >= warmup:``): the first passes of the loop counting it."""
    return leading_phase(model, path, counters) is not None


def leading_phase(model, path, counters):
    """(counter, bound, inclusive) of the first ``if`` of ``path`` that runs its branch only
    while one of ``counters`` is below a bound: ``("epoch", "warmup", False)`` for ``if
    epoch < warmup:`` (its last pass has ``epoch == warmup - 1``), ``inclusive`` for ``if
    epoch <= warmup:``; else None."""
    for node, branch in path:
        if not isinstance(node, cst.If):
            continue
        key = _test_key(model, node.test)
        if key is None or key[0][0] != "<":
            continue
        _, left, right = key[0]
        holds = key[1] == (branch == "body")
        if holds and left in counters:
            return left, right, False
        if not holds and right in counters:
            return right, left, True
    return None


_ROOT_PRIMES = tuple(p**0.5 for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37))


def ramp_reaches(value, phase, target) -> bool:
    """Whether the lr expression ``value`` (a Value), written on the passes of a leading
    ``phase`` (:func:`leading_phase`), equals ``target`` (the Value the optimizer was built
    with) on its last pass: ``base_lr * (epoch + 1) / warmup`` under ``if epoch < warmup``
    does, ``base_lr * epoch / warmup`` stops at ``(warmup - 1) / warmup`` of it. Both are
    evaluated with every name standing for a number of its own (the same name, the same
    number); anything else (a call, a subscript) answers False."""
    counter, bound, inclusive = phase
    names = {}

    def number(text):
        # square roots of distinct primes: no sum or product of a few of them is another's
        # by accident, so an equality that holds here holds for every value of the names
        if text not in names:
            names[text] = _ROOT_PRIMES[len(names) % len(_ROOT_PRIMES)]
        return names[text]

    def operand(node):
        text = dotted_name(node)
        if text is None:
            return None
        return number(bound) - (0 if inclusive else 1) if text == counter else number(text)

    if value is None or target is None:
        return False
    end, base = fold_number(value.node, operand), fold_number(target.node, operand)
    return end is not None and base is not None and abs(end - base) <= 1e-9 * abs(base)


def zero_based_counter(loop) -> str | None:
    """The name counting a ``for`` loop's passes from 0: ``e`` of ``for e in range(n)`` (or
    ``range(0, n)``), ``i`` of ``for i, x in enumerate(xs)`` (without a start, or start 0)."""
    node = loop.node
    if loop.kind != "for" or not isinstance(node, cst.For):
        return None
    target = node.target
    if starts_at_zero(loop):
        return target.value if isinstance(target, cst.Name) else None
    it = node.iter
    if not (
        isinstance(it, cst.Call)
        and isinstance(it.func, cst.Name)
        and it.func.value == "enumerate"
        and isinstance(target, (cst.Tuple, cst.List))
        and target.elements
        and isinstance(target.elements[0].value, cst.Name)
    ):
        return None
    for arg in it.args[1:]:
        if arg.keyword is not None and arg.keyword.value != "start":
            continue
        if not (isinstance(arg.value, cst.Integer) and arg.value.value == "0"):
            return None
    return target.elements[0].value.value


_AT_ZERO = {
    cst.GreaterThan: lambda a, b: a > b,
    cst.GreaterThanEqual: lambda a, b: a >= b,
    cst.LessThan: lambda a, b: a < b,
    cst.LessThanEqual: lambda a, b: a <= b,
    cst.Equal: lambda a, b: a == b,
    cst.NotEqual: lambda a, b: a != b,
}


def _first_pass_truth(test, counters, literals=True, bound=None) -> bool | None:
    """What ``test`` is while every name (or ``self`` attribute) of ``counters`` is 0, when
    that is certain: compared with an integer literal (where ``literals``), or, where
    ``bound`` accepts the other side, with a configured start (``step >= cfg.disc_start``),
    taken as at least 1, by an ordering only. ``and``/``or`` of such tests too."""
    if isinstance(test, (cst.Name, cst.Attribute)):
        return False if dotted_name(test) in counters else None
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = _first_pass_truth(test.expression, counters, literals, bound)
        return None if inner is None else not inner
    if isinstance(test, cst.BooleanOperation):
        both = [_first_pass_truth(t, counters, literals, bound) for t in (test.left, test.right)]
        decisive = isinstance(test.operator, cst.Or)  # the value that settles it alone
        if decisive in both:
            return decisive
        return None if None in both else not decisive
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
        return None
    left, (target,) = test.left, test.comparisons
    compare = _AT_ZERO.get(type(target.operator))
    if compare is None:
        return None
    sides = (left, target.comparator)
    counted = [dotted_name(side) in counters for side in sides]
    if sorted(counted) != [False, True]:
        return None  # one side the counter, the other its bound
    other = sides[counted.index(False)]
    if isinstance(other, cst.Integer) and literals:
        value = int(other.value, 0)
    elif (
        bound is not None
        and not isinstance(other, cst.Integer)
        and type(target.operator) in _ORDERINGS
        and bound(other)
    ):
        value = 1  # a start the configuration sets: some positive count
    else:
        return None
    return compare(*[0 if c else value for c in counted])


_ORDERINGS = (cst.GreaterThan, cst.GreaterThanEqual, cst.LessThan, cst.LessThanEqual)


def skips_first_pass(path, loop) -> bool:
    """The first pass of ``loop`` (or of a loop around it) never runs code on this branch
    path: ``if it > 0:`` (``it != 0``, ``it >= 1``, ``0 < it``, ``if it:``), or the else of
    ``if it == 0:`` (``if not it:``, ``if it == 0: continue``), with ``it`` counting that
    loop's passes from 0 (``zero_based_counter``)."""
    counters = {name for outer in loop.ancestors() if (name := zero_based_counter(outer))}
    if not counters:
        return False
    for node, branch in path:
        if isinstance(node, cst.If):
            truth = _first_pass_truth(node.test, counters)
            if truth is not None and truth == (branch == "else"):
                return True
    return False


# -- start thresholds: code that waits for a counter ------------------------------------------
def _compared(model, test) -> list:
    """The source of each operand ``test`` compares or tests the truth of (through ``not``,
    ``and``, ``or``)."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _compared(model, test.expression)
    if isinstance(test, cst.BooleanOperation):
        return _compared(model, test.left) + _compared(model, test.right)
    if isinstance(test, cst.Comparison):
        return [model.code(test.left)] + [model.code(t.comparator) for t in test.comparisons]
    return [model.code(test)] if isinstance(test, (cst.Name, cst.Attribute)) else []


def _bindings(root, text):
    """(statement, "=" / "+=" / "other", value) for each binding of the name or ``self``
    attribute ``text`` in the function ``root`` (not in functions or classes it defines);
    the module's own statements when ``root`` is the module."""
    body = root.body
    stack = list(body) if isinstance(body, (tuple, list)) else [body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(node, cst.Assign):
            for t in node.targets:
                if dotted_name(t.target) == text:
                    yield node, "=", node.value
                elif text in _dotted_in(t.target):
                    yield node, "other", None
        elif isinstance(node, cst.AnnAssign) and dotted_name(node.target) == text:
            yield node, "=" if node.value is not None else "declared", node.value
        elif isinstance(node, cst.AugAssign) and dotted_name(node.target) == text:
            yield node, "+=" if isinstance(node.operator, cst.AddAssign) else "other", node.value
        elif isinstance(node, (cst.For, cst.CompFor)) and text in _dotted_in(node.target):
            yield node, "other", None
        elif isinstance(node, cst.NamedExpr) and dotted_name(node.target) == text:
            yield node, "other", None
        elif isinstance(node, cst.AsName) and text in _dotted_in(node.name):
            yield node, "other", None
        stack.extend(children(node))


def _dotted_in(target) -> set:
    """The names and attribute chains a (possibly unpacking) target binds."""
    if isinstance(target, (cst.Tuple, cst.List)):
        return {t for el in target.elements for t in _dotted_in(el.value)}
    if isinstance(target, cst.StarredElement):
        return _dotted_in(target.value)
    text = dotted_name(target)
    return {text} if text else set()


def _inside(model, node, outer) -> bool:
    a, b = model.position(outer), model.position(node)
    return a[:2] <= b[:2] and b[2:] <= a[2:]


def _counting(model, text, gate, scope, loop, site=None) -> str | None:
    """How ``text`` counts where the ``if`` ``gate`` tests it, while ``loop`` (in ``scope``;
    None for a function the loop calls at ``site``, (Call node, calling scope, its loop))
    makes its first pass: "pass" when it is 0 for the whole pass (it counts that loop's
    passes, or an enclosing one's), "step" when it is 0 at the test but may grow within the
    pass (a step counter raised in a nested loop, or in another method), None when it may
    not be 0 there (set to something else, raised before the test, a parameter no counter
    is handed to)."""
    if loop is not None and any(text == zero_based_counter(outer) for outer in loop.ancestors()):
        return "pass"
    head, _, attr = text.partition(".")
    if site is not None and not attr and head in scope.params:
        call, caller, caller_loop = site
        handed = _handed(scope, call, head)
        if handed is None or any(op != "declared" for _, op, _ in _bindings(scope.node, head)):
            return None
        return _counting(model, handed, call, caller, caller_loop)
    if not attr and loop is not None:
        functions = [(scope.name, scope.node)]
    elif head == "self" and attr and "." not in attr:
        cls = enclosing_class(model, scope)
        if cls is None:
            return None
        functions = [(name, info.node) for name, info in cls.methods.items()]
    else:
        return None
    starts, raises = [], []
    for name, root in functions:
        for stmt, op, value in _bindings(root, text):
            if op == "=" and isinstance(value, cst.Integer) and value.value == "0":
                starts.append((name, stmt))
            elif op == "+=" and not isinstance(value, cst.UnaryOperation):
                raises.append((root, stmt))
            elif op != "declared":
                return None  # set from a checkpoint, lowered, unpacked: not surely 0
    if not starts or not raises:
        return None
    if attr:
        if any(name != "__init__" for name, _ in starts):
            return None  # reset by another method (a new run, a restore)
    elif loop is None or any(_inside(model, stmt, loop.node) for _, stmt in starts):
        return None  # reset on every pass: it counts within a pass, not from the start
    kind = "pass"
    for root, stmt in raises:
        if root is not scope.node or loop is None:
            kind = "step"  # raised in another method: when, the loop does not say
        elif model.starts_before(stmt, gate, root):
            return None  # raised before the test: past 0 already on the first pass
        elif any(
            inner is not loop and loop.contains(inner) and _inside(model, stmt, inner.node)
            for inner in model.loops
            if inner.scope is scope
        ):
            kind = "step"
    return kind


def _handed(scope, call, param) -> str | None:
    """The name or attribute ``call`` (a call of the function ``scope``, ``self.method(...)``
    or ``fn(...)``) hands its parameter ``param``, else None."""
    params = list(scope.params)
    if params[:1] == ["self"]:
        params = params[1:]
    if any(a.star for a in call.args):
        return None
    for i, a in enumerate(call.args):
        if (a.keyword is None and i < len(params) and params[i] == param) or (
            a.keyword is not None and a.keyword.value == param
        ):
            return dotted_name(a.value)
    return None


def _configured_start(model, scope):
    """Whether an operand is a start the configuration sets (``cfg.disc_start``, ``args.
    warmup``, ``start_step``, ``len(loader) * n``'s name): a name, attribute, subscript or
    call, never a name this function sets to 0 or below."""

    def accepts(node) -> bool:
        if isinstance(node, cst.Name):
            if node.value in ("True", "False", "None"):
                return False
            return not any(
                not isinstance(v, cst.Integer) or int(v.value, 0) <= 0
                for v in model.assignments(scope, node.value)
                if isinstance(v, (cst.Integer, cst.UnaryOperation))
            )
        return isinstance(node, (cst.Attribute, cst.Subscript, cst.Call))

    return accepts


def start_gate(model, path, scope, loop=None, site=None):
    """The ``if`` of the branch path ``path`` (in the function ``scope``) that keeps its code
    from the first pass of ``loop`` and starts it later: a start threshold on a counter that
    is 0 there (``if total_steps >= cfg.disc_start:``, ``>``, ``<=``/``<`` reversed, the else
    of ``if step < cfg.disc_start:``, ``and`` with anything). The counter: ``loop``'s or an
    enclosing loop's ``zero_based_counter``, a name set to 0 before the loop and only raised
    (``+=``) after the test, or a ``self`` attribute set to 0 in ``__init__`` and only
    raised; in a function the loop calls at ``site`` (``loop`` None), such an attribute or
    a parameter that call hands one of the loop's counters (``self.train_step(x, epoch)``).
    The bound: a configured start (taken as positive), or an integer literal when the
    counter counts ``loop``'s passes (a step counter may pass a small one within the first
    pass). None when no test of the path is one; ``if it > 0:`` is one (see
    :func:`skips_first_pass`)."""
    for node, branch in path:
        if not isinstance(node, cst.If):
            continue
        for text in dict.fromkeys(_compared(model, node.test)):
            hopeful = _first_pass_truth(node.test, {text}, True, lambda _: True)
            if hopeful is None or hopeful != (branch == "else"):
                continue  # not a threshold on it even were it a counter: no need to look
            kind = _counting(model, text, node, scope, loop, site)
            if kind is None:
                continue
            truth = _first_pass_truth(
                node.test, {text}, kind == "pass", _configured_start(model, scope)
            )
            if truth is not None and truth == (branch == "else"):
                return node
    return None


def tests_alike(model, path, gate) -> bool:
    """Some ``if`` of ``path`` tests an operand the start threshold ``gate`` compares (the
    same counter, the same start): a step under the same condition, or one of its own."""
    operands = set(_compared(model, gate.test))
    return any(
        isinstance(node, cst.If) and operands & set(_compared(model, node.test)) for node, _ in path
    )


def assigns_call_of(rebind, method: str) -> bool:
    """The rebinding assigns the result of a ``.method(...)`` call: ``x = accelerator.prepare(x)``
    (or unpacks it: ``model, loader = accelerator.prepare(model, loader)``)."""
    value = getattr(rebind.node, "value", None)
    return (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value == method
    )


def rebound_value(model, rebind):
    """The Value a rebinding statement gives its target (``x = v``, ``x: T = v``, ``x += v``,
    ``(x := v)``), else None (a ``for`` target, ``with ... as``, a bare annotation)."""
    value = getattr(rebind.node, "value", None)
    if value is None or not hasattr(model, "value"):
        return None
    return model.value(value)


def assigned_value(model, rebind):
    """The Value a plain ``x = value`` rebinding assigns, else None (augmented, annotated or
    walrus assignments, ``for`` targets, ``with ... as``)."""
    node = rebind.node
    return model.value(node.value) if isinstance(node, cst.Assign) else None


def method_edit(model, call, content: str):
    """An edit replacing ``.method`` of the method call ``call`` (a MethodCall) with
    ``content``: ``.get_lr`` -> ``.get_last_lr``."""
    _, _, line, col = model.position(call.node.func.value)
    _, _, end_line, end_col = model.position(call.node.func)
    return (line, col, end_line, end_col, content)


def args_edit(model, call: cst.Call, content: str = "()"):
    """An edit replacing the parenthesised arguments of ``call`` with ``content``."""
    _, _, fl, fc = model.position(call.func)
    _, _, el, ec = model.position(call)
    return (fl, fc, el, ec, content)


# -- one level into the functions a loop calls ------------------------------------------------------
def called_functions(model, root, scope):
    """(FunctionInfo, Call node, leading params to skip) for calls under ``root`` of a function
    defined in this file: ``train(model, loader, optimizer)`` or ``self.train_epoch(loader)``."""
    cls = None
    for s in scope.function_chain():
        if s.cls is not None:
            cls = s.cls
            break
    stack = [root]
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(n, cst.Call):
            if isinstance(n.func, cst.Name):
                infos = model.functions.get(n.func.value, [])
                if len(infos) == 1 and infos[0].scope.cls is None:
                    yield infos[0], n, 0
            elif (
                isinstance(n.func, cst.Attribute)
                and isinstance(n.func.value, cst.Name)
                and n.func.value.value == "self"
                and cls is not None
                and n.func.attr.value in cls.methods
            ):
                yield cls.methods[n.func.attr.value], n, 1
        stack.extend(children(n))


def param_for(info, call, skip, text):
    """The parameter of ``info`` that receives the variable ``text`` in ``call``, else None."""
    params = info.params[skip:]
    if any(a.star for a in call.args):
        return None
    positional = [a for a in call.args if a.keyword is None]
    for i, a in enumerate(positional):
        if dotted_name(a.value) == text and i < len(params):
            return params[i]
    for a in call.args:
        if (
            a.keyword is not None
            and dotted_name(a.value) == text
            and a.keyword.value in info.params
        ):
            return a.keyword.value
    return None


def callee_optimizer_steps(model, names, loop, scope, sched_text, opt_text, key):
    """For each call in the body of the Loop ``loop`` (in ``scope``) of a function of this
    file: (FunctionInfo, Call node, the calls in it that step the optimizer variable ``key``:
    the same global or ``self`` attribute, or the parameter the optimizer is passed as). The
    steps are None when the scheduler ``sched_text`` is passed too (what the function does with
    it is unseen)."""
    # a comprehension (``[sched.step() for _ in range(start)]``) has no body: walk it whole
    body = getattr(loop.node, "body", loop.node)
    for info, call, skip in called_functions(model, body, scope):
        if any(dotted_name(a.value) == sched_text for a in call.args):
            yield info, call, None
            continue
        keys = {key}
        param = param_for(info, call, skip, opt_text)
        if param is not None:
            keys.add(binding_key(info.scope, param))
        yield (
            info,
            call,
            [
                c
                for c in model.calls
                if c.scope is info.scope and names.call_optimizer_keys(c) & keys
            ],
        )


def seen_from(model, branches, fact, scope, ignore=()) -> list:
    """[(loop, conditions)] of ``fact`` (a step call) seen from the function ``scope``: where
    it is when it is there; else at each call in ``scope`` that runs its function, when it
    runs there unconditionally (``warmup.step()`` in ``train_one_epoch``'s batch loop, seen
    at ``train_one_epoch(..., warmup)`` in the epoch loop). Tests on ``ignore`` (presence
    tests of the stepped names) are left out."""
    if fact.scope is scope:
        return [(fact.loop, conditions(branches.path(fact), ignore))]
    if conditions(branches.path(fact), ignore):
        return []  # stepped only under a condition of its own in the callee
    head = fact.receiver.partition(".")[0]
    if head in fact.scope.params and model.arguments(fact.scope, head) is None:
        return []  # some calls leave the stepped parameter at its default
    return [
        (loop, conditions(branches.path_in(call, caller.node), ignore))
        for caller, call, loop in model.call_sites(fact.scope)
        if caller is scope
    ]


def names_of(model) -> Names:
    """The file's :class:`Names`, built once and shared by every rule that asks."""
    return model.shared(Names)


def branches_of(model) -> Branches:
    """The file's :class:`Branches`, walked per scope on first use and shared."""
    return model.shared(Branches)


# The DataLoader arguments that decide how many batches an epoch has.
_LOADER_LENGTH_ARGS = ("dataset", "batch_size", "sampler", "batch_sampler", "drop_last")


def same_batches(model, first, second) -> bool:
    """Whether two ``x = DataLoader(...)`` rebindings of a trainer (``self.train_loader`` in
    ``__init__``, then again in ``to_device``) certainly yield as many batches: the same
    dataset and batch size, the same ``drop_last``, and no sampler in either. Names read
    through an attribute ``__init__`` binds once to a parameter (``self.train_set`` for
    ``train_set``, ``self.cfg.batch_size`` for ``cfg.batch_size``) count as that parameter."""
    a, b = _loader_arguments(first.node), _loader_arguments(second.node)
    if a is None or b is None:
        return False
    if any(k in d for d in (a, b) for k in ("sampler", "batch_sampler")):
        return False
    if "dataset" not in a or "batch_size" not in a:
        return False
    for key in ("dataset", "batch_size", "drop_last"):
        if (key in a) != (key in b):
            return False
        if key not in a:
            continue
        x = _as_init_name(model, first.scope, a[key])
        y = _as_init_name(model, second.scope, b[key])
        if x is None or x != y:
            return False
    return True


def _loader_arguments(node) -> dict | None:
    """keyword -> argument node of a plain ``x = DataLoader(...)``; None for anything else,
    or a call with ``*args``/``**kwargs`` (its length arguments are not all seen)."""
    if not isinstance(node, cst.Assign) or not isinstance(node.value, cst.Call):
        return None
    call = node.value
    if (dotted_name(call.func) or "").rpartition(".")[2] != "DataLoader":
        return None
    out = {}
    for i, arg in enumerate(call.args):
        if arg.star:
            return None
        if arg.keyword is not None:
            out[arg.keyword.value] = arg.value
        elif i < len(_LOADER_LENGTH_ARGS[:2]):
            out[_LOADER_LENGTH_ARGS[i]] = arg.value
        else:
            return None  # shuffle, sampler, ... by position: not worth reading
    return out


def _as_init_name(model, scope, node) -> str | None:
    """The text of a name or attribute chain (or a literal), with a leading ``self.<attr>``
    that the class's ``__init__`` binds once, to a name, replaced by that name."""
    number = fold_number(node)
    if number is not None:
        return repr(number)
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value
    text = dotted_name(node)
    if text is None or not text.startswith("self."):
        return text
    head, _, rest = text[len("self.") :].partition(".")
    cls = enclosing_class(model, scope)
    init = cls.methods.get("__init__") if cls is not None else None
    if init is None:
        return None
    binds = [
        r
        for r in model.rebinds
        if r.target == f"self.{head}" and enclosing_class(model, r.scope) is cls
    ]
    if (
        len(binds) != 1
        or binds[0].scope is not init.scope
        or not isinstance(binds[0].node, cst.Assign)
        or not isinstance(binds[0].node.value, cst.Name)
    ):
        return None
    name = binds[0].node.value.value
    return f"{name}.{rest}" if rest else name


# Methods that hand back bare parameters (one group, at the optimizer's default lr).
_BARE_PARAMETERS = frozenset({"parameters", "named_parameters"})


def params_from_group_builder(model, optimizer) -> bool:
    """``optimizer``'s groups are unknown here and its params come from a call named like a
    builder of param groups (``classifier.get_parameters()``, ``get_param_groups(model)``,
    summed with other groups, or through a name bound to one in its scope): groups that may
    each set their own lr, so the optimizer's default lr may reach none of them."""
    if optimizer.groups is not None or optimizer.params is None:
        return False
    stack, followed = [optimizer.params.node], set()
    while stack:
        node = stack.pop()
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            stack += [node.left, node.right]
        elif isinstance(node, cst.Name) and node.value not in followed:
            # each name once: ``params = params + head_groups`` reads itself
            followed.add(node.value)
            stack += model.assignments(optimizer.scope, node.value)
        elif isinstance(node, cst.Call):
            func = node.func
            name = (
                func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
            )
            if name in ("list", "tuple"):
                stack += [a.value for a in node.args]
                continue
            low = str(name).lower()
            if low not in _BARE_PARAMETERS and ("param" in low or "group" in low):
                return True
    return False
