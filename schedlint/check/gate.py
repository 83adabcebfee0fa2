"""The gate: skip, before parsing with libcst, files that cannot contain a finding.

Every rule needs something the model builder records from one of these, and nothing else:

- an optimizer or scheduler *construction*: a call whose callee, qualified through the file's
  imports, is a class or factory of :mod:`schedlint.model.catalogue` (``torch.optim.*``,
  ``torch.optim.lr_scheduler.*``, ``transformers.*``, ``bnb.optim.*``, ...) or a name bound
  to one (``scheduler_class = lrs.MultiStepLR``), or a local class whose base is a torch
  scheduler (a custom scheduler);
- a ``param_groups`` attribute (group loops, ``opt.param_groups[i]["lr"] = ...``, classes
  that write group lrs), except an optimizer implementation's own: ``self.param_groups``
  inside a ``torch.optim.Optimizer`` subclass is the optimizer applying its lrs;
- a class picked by a config's name: hydra's ``instantiate(cfg.scheduler, optimizer=...)``
  (or ``cfg.optimizer``), or a factory handed ``torch.optim.lr_scheduler`` (or ``torch.optim``)
  and the object to build on (``config.init_obj("lr_scheduler", torch.optim.lr_scheduler,
  optimizer)``);
- a param-group LR scaling key (``lr_mult``, ``lr_scale``, ...), set or read, for the project
  rule SL107, or a timm scheduler construction (it reads ``lr_scale``).

A qualified name is built only from identifiers written in the file (``from torch import
optim`` then ``optim.SGD``, or ``torch.optim.SGD``), so a construction needs the identifier
``optim``, ``optimizers`` (apex), ``transformers``, ``pytorch_transformers`` or ``diffusers``
somewhere in the file. Hence two stages:

1. :func:`scan` (bytes, about 1 µs per line): rejects files with none of those identifiers
   and no scaling key; admits outright files with a scaling key. It also rejects files
   without ``param_groups`` in which no catalogue class or factory name occurs as text: the
   last part of a qualified construction name is always written in the file (in the call
   or in the import that names it), so such a file has no construction. On the torch
   package this skips half the files stage 2 would reject, at 1/20 of stage 2's cost.
2. :func:`admits_code` (``ast``, for files stage 1 was unsure of, ~10x cheaper than libcst):
   rejects files where those words occur only in comments, strings or unrelated names, i.e.
   files with no catalogue construction, no scheduler subclass and no ``param_groups``
   outside optimizer implementations (timm's and torch's ``optim`` packages: 22 of timm's
   30 admitted files).

``tests/test_prefilter.py`` proves the gate safe over every fixture, the installed torch and
the standard library: no file it rejects gets a finding from the full checker (gate off).
A new rule that fires on something else must extend this module (and that test will say so).
"""

from __future__ import annotations

import ast
import re

REJECT, MAYBE, ADMIT = 0, 1, 2

# Identifiers a catalogue construction's qualified name must contain (see the docstring),
# and ``param_groups``. ``optim`` also finds ``optimizers``.
_WORDS = (b"optim", b"transformers", b"pytorch_transformers", b"diffusers", b"param_groups")
# Bytes that continue an ASCII identifier. A byte >= 0x80 next to a word counts as a boundary,
# which admits more files, never fewer.
_IDENT = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
# Param-group scaling keys: a superset of builder.LR_SCALING_KEY (prefixes: "mult" covers
# "multiplier", "scale" covers "scaler").
_LR_KEY = re.compile(rb"lr_?(?:mult|mul|scale|factor|ratio|decay_mult)")


def _catalogue_names() -> tuple:
    """Strings at least one of which occurs in the text of every construction or scheduler
    subclass that :func:`admits_code` accepts: the catalogue's class and factory names, the
    scheduler base classes, and the parts that make a name an optimizer (see
    :func:`schedlint.model.catalogue.optimizer_class`). A name containing another one is left out:
    the shorter one finds it."""
    from schedlint.model import catalogue

    names = {q.rpartition(".")[2] for q in catalogue.SCHEDULER_BASES}
    names |= set(catalogue.TORCH_SCHEDULERS) | set(catalogue.TRANSFORMERS_FACTORIES)
    names |= set(catalogue.FACTORY_RETURNS)
    names |= set(catalogue.TORCH_OPTIMIZERS) | set(catalogue.OPTIMIZER_NAME_PARTS)
    return tuple(sorted(n.encode() for n in names if not any(m != n and m in n for m in names)))


_NAMES = _catalogue_names()


def scan(data: bytes) -> int:
    """Stage 1 on raw bytes: REJECT, MAYBE (ask :func:`admits_code`) or ADMIT."""
    # Substring tests run at memchr speed; the regexes run only on files that pass them.
    if b"lr" in data and _LR_KEY.search(data) is not None:
        return ADMIT
    # A timm scheduler construction counts as reading "lr_scale" (SL107), and its call need
    # not name an optimizer word (``CosineLRScheduler(opt, ...)``). Its qualified name starts
    # with the identifier ``timm`` (``timm.scheduler.*``), written in the file; ``timm_models``
    # or ``optimm`` is not it.
    if b"cheduler" in data and _has_word(data, b"timm"):
        return MAYBE
    # hydra's ``instantiate(cfg.scheduler, optimizer=opt)`` names no catalogue class.
    if b"instantiate" in data and _has_word(data, b"hydra"):
        return MAYBE
    # Lightning's ``BaseFinetuning.unfreeze_and_add_param_group(modules, optimizer)`` adds a
    # param group (SL302) in a callback file that need not name an optimizer word.
    if b"add_param_group" in data and _has_word(data, b"unfreeze_and_add_param_group"):
        return ADMIT
    # Lightning's own ``BackboneFinetuning`` callback adds one where it is built (SL302).
    if _has_word(data, b"BackboneFinetuning"):
        return ADMIT
    # bytes.find and a boundary test per hit: several times faster than a \b regex.
    ident, end = _IDENT, len(data)
    for word in _WORDS:
        i = data.find(word)
        while i >= 0:
            j = i + len(word)
            if i == 0 or data[i - 1] not in ident:
                if j == end or data[j] not in ident:
                    return _names(data)
                if (
                    word == b"optim"
                    and data.startswith(b"izers", j)
                    and (j + 5 == end or data[j + 5] not in ident)
                ):
                    return _names(data)
            i = data.find(word, j)
    return REJECT


def _has_word(data: bytes, word: bytes) -> bool:
    """``word`` occurs in ``data`` as a whole identifier."""
    ident, end, n = _IDENT, len(data), len(word)
    i = data.find(word)
    while i >= 0:
        j = i + n
        if (i == 0 or data[i - 1] not in ident) and (j == end or data[j] not in ident):
            return True
        i = data.find(word, j)
    return False


def _names(data: bytes) -> int:
    # ``optim.lr_scheduler`` / ``torch.optim,``: a module handed to a factory that picks a
    # class from it by a config's name (see the builder)
    if b"param_groups" in data or b"optim.lr_scheduler" in data or b"torch.optim," in data:
        return MAYBE
    for name in _NAMES:  # memchr-speed substring tests: ~1/20 of an ast.parse
        if name in data:
            return MAYBE
    return REJECT


# ``import a.b``, ``from .x import y, z``, ``from pkg import (m,`` at the start of a line.
_IMPORT = re.compile(
    rb"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+\(?([\w, \t]+)"
    rb"|import[ \t]+([\w.]+))",
    re.M,
)


def imported_modules(data: bytes) -> list:
    """Module names a file's import lines may name (``pkg.mod``, ``.helper``, and for
    ``from pkg import x`` both ``pkg`` and ``pkg.x``), for :func:`admits_through_imports`."""
    out = []
    # Every match lies on one line that holds the bytes ``import``: matching at the start of
    # those lines only is several times faster than a ``^`` search through the whole file.
    i, last = data.find(b"import"), -1
    while i >= 0:
        start = data.rfind(b"\n", 0, i) + 1
        end = data.find(b"\n", i)
        i = data.find(b"import", i + 6) if end < 0 else data.find(b"import", end)
        if start == last:
            continue
        last = start
        m = _IMPORT.match(data, start)
        if m is None:
            continue
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


def admits_through_imports(data: bytes, path: str, find, verdict_of) -> bool:
    """Stage 0 for a file :func:`scan` rejects: it still mentions optimizers, schedulers or
    lrs (:func:`admits`) and imports a module of the checked tree that the gate admits, so
    it may build or drive them through that module's helpers (``optimizer =
    build_optimizer(model)``). ``find(importer, name)`` is the tree's module lookup,
    ``verdict_of(path)`` the gate's verdict on a file (kept by the caller, which also
    records that the file's result now depends on that module)."""
    return admits(data) and imports_admitted(data, path, find, verdict_of)


def imports_admitted(data: bytes, path: str, find, verdict_of) -> bool:
    """The file imports a module of the checked tree that the gate admits (``find`` and
    ``verdict_of`` as for :func:`admits_through_imports`)."""
    for name in imported_modules(data):
        if name.partition(".")[0] in ("torch", "transformers"):  # not ``torchtools``
            continue
        found = find(path, name)
        if found is not None and verdict_of(found) != REJECT:
            return True
    return False


# A top-level class whose code steps something: ``class Trainer(BaseTrainer):`` with
# ``self.lr_scheduler.step()`` in a method.
_CLASS = re.compile(rb"^class[ \t]+([A-Za-z_]\w*)", re.M)
_DEF = re.compile(rb"^def[ \t]+([A-Za-z_]\w*)", re.M)
# A top-level function with a scheduler parameter (``def do_train(cfg, model, loader,
# optimizer, scheduler):``): its callers hand it what its loop steps.
_DEF_WITH_SCHEDULER = re.compile(rb"^def[ \t]+([A-Za-z_]\w*)[ \t]*\([^)]*?sched", re.M)


# An optimizer's state saved or restored: ``self.optimizer.state_dict(``,
# ``self.optimizers[i].load_state_dict(``.
_OPTIMIZER_STATE = re.compile(rb"optim\w*(?:\[[^\]\n]*\])?\.(?:load_)?state_dict\(")


# The state of an optimizer a parameter holds: ``model.optimizer.load_state_dict(`` in a
# top-level ``def restore_run(model, path, cfg)``.
_HANDED_STATE = re.compile(
    rb"(?<![\w.])(?!self\.)\w+\.optim\w*(?:\[[^\]\n]*\])?\.(?:load_)?state_dict\("
)


def stepping_classes(data: bytes) -> list:
    """Names of the top-level classes (and, in a file naming ignite or restoring the optimizer
    of a parameter, ``model.optimizer.load_state_dict(``, functions) of a file
    that mentions optimizers, schedulers or lrs and calls ``.step(``, or saves or restores
    an optimizer's state
    (``self.optimizer.state_dict(``): a trainer or hooks class handed its optimizer and
    scheduler by the script that calls it, or a base trainer that checkpoints the optimizer
    while a subclass steps the scheduler (empty otherwise)."""
    if b".step(" not in data and (
        b"state_dict(" not in data or _OPTIMIZER_STATE.search(data) is None
    ):
        return []
    if not admits(data):
        return []
    names = [m.group(1).decode("ascii") for m in _CLASS.finditer(data)]
    if b"ignite" in data or _HANDED_STATE.search(data) is not None:
        # ``do_train(cfg, model, loader, optimizer, scheduler)`` registering an ignite handler
        # that steps the scheduler: ignite runs the handler, its callers hand what it steps;
        # ``restore_run(model, path, cfg)`` restoring ``model.optimizer``: what its callers
        # hand it
        names += [m.group(1).decode("ascii") for m in _DEF.finditer(data)]
    else:
        # the same function stepping it in its own loop
        names += [m.group(1).decode("ascii") for m in _DEF_WITH_SCHEDULER.finditer(data)]
    return names


def admits_through_callers(data: bytes, callers, verdict_of) -> bool:
    """Stage 0 the other way round, for a file :func:`scan` rejects: a class of it that
    steps something (:func:`stepping_classes`) is called by a module the gate admits, which
    may hand it an optimizer or scheduler (``Trainer(model, optimizer, lr_scheduler=...)``).
    ``callers(names)`` lists the in-tree files that call one of ``names``."""
    names = stepping_classes(data)
    return bool(names) and any(verdict_of(p) != REJECT for p in callers(names))


def admits(data: bytes) -> bool:
    """A loose byte-level pre-check for callers that hold only bytes (the flake8 plugin, the
    raw JSON of a notebook): True for anything that mentions optimizers, schedulers, param
    groups or ``lr`` at all. A superset of what :func:`scan` admits; the engine's
    :func:`~schedlint.check.engine.check_source` applies the exact two-stage gate itself."""
    if b"optim" in data or b"param_groups" in data or b"chedul" in data or b"transformers" in data:
        return True
    if b"LR" in data or b"lr_" in data or b"_lr" in data:
        return True
    # ``\blr\b`` by bytes.find and a boundary test per hit: the regex, which has no literal
    # prefix to skip ahead by, cost more than all of stage 1 on a tree of rejected files.
    ident, end = _IDENT, len(data)
    i = data.find(b"lr")
    while i >= 0:
        j = i + 2
        if (i == 0 or data[i - 1] not in ident) and (j == end or data[j] not in ident):
            return True
        i = data.find(b"lr", j)
    return _LR_KEY.search(data) is not None  # a key without "_": ``lrmult``


def _package_of(path: str) -> str | None:
    """The dotted package a module file sits in (``torch/optim/adam.py``: ``torch.optim``),
    read from the ``__init__.py`` files above it; None outside a package."""
    import os

    parts = []
    folder = os.path.dirname(os.path.abspath(path))
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        parts.append(os.path.basename(folder))
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return ".".join(reversed(parts)) or None


def _dotted(node):
    parts = []
    while node.__class__ is ast.Attribute:
        parts.append(node.attr)
        node = node.value
    if node.__class__ is ast.Name:
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


_AST_FIELDS: dict = {}  # ast class -> fields that can hold nodes (not ctx, not scalars)


def _ast_fields(cls) -> tuple:
    if not (isinstance(cls, type) and issubclass(cls, ast.AST)) or cls in (ast.Constant, ast.Name):
        fields = ()
    else:
        fields = tuple(f for f in cls._fields if f not in ("ctx", "type_comment"))
    _AST_FIELDS[cls] = fields
    return fields


# ``_LR_KEY`` on text: a superset of builder.LR_SCALING_KEY.
_LR_KEY_TEXT = re.compile(_LR_KEY.pattern.decode("ascii"))


def names_scaling_key(tree: ast.AST) -> bool:
    """Does the code hold a param-group scaling key where SL107 can read it: a dict literal's
    key, a ``dict(...)`` keyword or a subscript (the builder records group keys only from
    dicts and ``dict(...)`` calls)? A key only in other strings (``name='lr_mult'`` in a
    protobuf descriptor, a docstring) is not one; :func:`scan` admits those by their bytes."""
    key_text = _LR_KEY_TEXT
    for node in ast.walk(tree):
        cls = node.__class__
        if cls is ast.Dict:
            keys = node.keys
        elif cls is ast.Subscript:
            keys = (node.slice,)
        elif cls is ast.keyword:
            if node.arg is not None and key_text.match(node.arg):
                return True
            continue
        else:
            continue
        for key in keys:
            if (
                key.__class__ is ast.Constant
                and isinstance(key.value, str)
                and key_text.match(key.value)
            ):
                return True
    return False


def _picks_a_class(call, qualified) -> bool:
    """The builder's picks by name: hydra's ``instantiate(cfg.scheduler, optimizer)``, or a
    module of schedulers (or ``torch.optim``) handed to a factory after a name and before what
    it builds on (``config.init_obj("lr_scheduler", torch.optim.lr_scheduler, optimizer)``)."""
    from schedlint.model import catalogue

    dotted = _dotted(call.func)
    if dotted is not None and any(q in catalogue.CONFIG_BUILDERS for q in qualified(dotted)):
        first = call.args[0]
        if first.__class__ is not ast.Starred and catalogue.configured_kind(_dotted(first)):
            return True
    for arg in call.args[1:-1]:
        if arg.__class__ is ast.Starred:
            return False
        name = _dotted(arg)
        if name is not None and any(catalogue.module_kind(q) for q in qualified(name)):
            return True
    return False


def admits_code(tree: ast.AST, path: str | None = None) -> bool:
    """Stage 2: does the code (not its comments or strings) build or touch what rules need?

    Qualification is done as the model builder does it, except that every import of a name
    anywhere in the file counts (the builder uses the ones seen so far), so this admits a
    superset of the files where the builder records a construction. ``path`` (the file's)
    resolves relative imports, for one purpose only: telling an optimizer implementation
    inside a package (``from .optimizer import Optimizer`` in ``torch/optim/adam.py``).
    """
    from schedlint.model import catalogue

    imports: dict = {}
    callees, bases = [], []
    positional = []  # calls with positional arguments, which may pick a class by name
    own_groups, classes = [], []  # lines of ``self.param_groups``; (class, its base names)
    relative = []  # ``from .x import y``
    Attribute, Call, ClassDef, Name = ast.Attribute, ast.Call, ast.ClassDef, ast.Name
    Import, ImportFrom = ast.Import, ast.ImportFrom
    known = _AST_FIELDS
    stack = [tree]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        node = pop()
        cls = node.__class__
        if cls is Attribute:
            if node.attr == "param_groups":
                value = node.value
                if value.__class__ is not Name or value.id != "self":
                    return True
                own_groups.append(node.lineno)
        elif cls is Call:
            callees.append(node.func)
            if node.args:
                positional.append(node)
            if node.func.__class__ is Name and node.func.id == "dict":
                # ``dict(steplr=StepLR, ...)``: a registry whose classes are called by key
                callees.extend(k.value for k in node.keywords)
        elif cls is ast.Dict:
            callees.extend(v for v in node.values if v.__class__ in (Attribute, Name))
        elif cls is ClassDef:
            bases.extend(node.bases)
            classes.append(node)
        elif cls is ast.Assign and node.value.__class__ in (Attribute, Name):
            # ``scheduler_class = lrs.MultiStepLR``: the class is called through the name
            callees.append(node.value)
        elif cls is Import:
            for alias in node.names:
                if alias.asname:
                    imports.setdefault(alias.asname, set()).add(alias.name)
                else:
                    head = alias.name.partition(".")[0]
                    imports.setdefault(head, set()).add(head)
        elif cls is ImportFrom:
            if node.level:
                relative.append(node)
            elif node.module is not None:
                for alias in node.names:
                    if alias.name != "*":
                        imports.setdefault(alias.asname or alias.name, set()).add(
                            f"{node.module}.{alias.name}"
                        )
        try:
            fields = known[cls]
        except KeyError:
            fields = _ast_fields(cls)
        for field in fields:  # scalars (str, int, None) land on the stack and are skipped
            value = getattr(node, field)
            if value.__class__ is list:
                extend(value)
            else:
                push(value)

    def qualified(dotted):
        head, _, rest = dotted.partition(".")
        names = {dotted}
        for full in imports.get(head, ()):
            names.add(f"{full}.{rest}" if rest else full)
        return names

    for dotted in {_dotted(func) for func in callees} - {None}:
        for q in qualified(dotted):
            if (
                catalogue.scheduler_class(q)
                or catalogue.optimizer_class(q)
                or (catalogue.foreign_scheduler(q) or (None, None))[1] == "timm"
            ):
                return True
    for call in positional:
        if _picks_a_class(call, qualified):
            return True
    # An optimizer class of the package's own (``from .optim import WarmupCosineAdamW``),
    # named as optimizers are: the builder reads its module and may find it derives from a
    # torch optimizer. torch's own names imported so are re-exports, as the builder sees them.
    local = {a.asname or a.name for node in relative for a in node.names}
    for dotted in {_dotted(func) for func in callees} - {None}:
        head, last = dotted.partition(".")[0], dotted.rpartition(".")[2]
        if (
            head in local
            and last[:1].isupper()
            and last not in catalogue.TORCH_OPTIMIZERS
            and catalogue.named_like_optimizer(last, own=True)
        ):
            return True
    for dotted in {_dotted(base) for base in bases} - {None}:
        for q in qualified(dotted):
            if q in catalogue.SCHEDULER_BASES or catalogue.scheduler_class(q):
                return True
    if own_groups:
        # An optimizer's own implementation (``class Lion(Optimizer)``: its ``step`` loops
        # over ``self.param_groups``) is what schedulers drive, never a user of them: no
        # rule has anything to say inside it. Anywhere else ``self.param_groups`` counts.
        if relative and path is not None:
            package = _package_of(path)
            for node in relative if package else ():
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
                for alias in node.names:
                    imports.setdefault(alias.asname or alias.name, set()).add(
                        f"{module}.{alias.name}"
                    )
        # ... unless the file builds one (``AdamW(groups, lr=...)`` of its own ``class
        # AdamW(Optimizer)``, whose ``step`` writes an lr): then it uses one too.
        called = {_dotted(func) for func in callees}
        spans = [
            (c.lineno, c.end_lineno)
            for c in classes
            if c.name not in called
            and any(
                q in catalogue.OPTIMIZER_BASES
                for dotted in {_dotted(b) for b in c.bases} - {None}
                for q in qualified(dotted)
            )
        ]
        return not all(any(a <= line <= b for a, b in spans) for line in own_groups)
    return False
