"""Value flow: which optimizers, schedulers, functions and instances an expression can hold.

The builder records facts where they are written (``g["lr"] = x`` inside
``adjust_learning_rate(optimizer, epoch)``); this module answers *which* optimizer
``optimizer`` is there. It is a flow-insensitive, context-insensitive points-to analysis over
the statements the builder saw (assignments, ``for`` targets, calls, returns):

- abstract values are the model's Optimizer and Scheduler facts, FunctionInfo (a ``def`` or a
  lambda), ClassInfo (called: an :class:`Instance`), Instance, and :class:`Seq` (a list, tuple
  or dict literal, with its items);
- values flow through assignment, ``self.x`` attributes (one slot per class hierarchy in the
  file, so a base class method sees what a subclass ``__init__`` stored), instance attributes
  (``trainer.optimizer``), read-only properties (``@property def optimizer(self): return
  self._optimizer``, read as ``self.optimizer`` or ``model.optimizer``), subscripts and
  iteration over containers, call arguments into parameters (the keywords no parameter
  names into ``**kwargs``, a dict read back by key), return values into the call's
  result, ``functools.partial`` and both arms of a
  conditional expression (*may* values: nothing is ever dropped);
- the fixpoint is iterated a bounded number of rounds and every evaluation is depth-bounded,
  so recursion and big files cost a bounded amount of work.

The result is used by the builder's resolution only where the per-scope, order-aware lookup
finds nothing, so a flat script keeps exactly the answers it had.
"""

from __future__ import annotations

import libcst as cst

from schedlint.model import catalogue
from schedlint.model.facts import (
    ClassInfo,
    FunctionInfo,
    ModuleRef,
    Optimizer,
    Scheduler,
    top_level,
)
from schedlint.model.frameworks import (
    CONFIGURE_HOOK,
    DEEPSPEED_INITIALIZE,
    FINETUNING_HOOKS,
    OPTIMIZER_HOOKS,
    OPTIMIZERS_CALL,
    SCHEDULER_HOOKS,
    SCHEDULERS_CALL,
    TRAINER_OPTIMIZERS,
    deepspeed_argument,
    hook_parameter,
    is_finetuning_callback,
)
from schedlint.model.numbers import fold_binary, fold_number

MAX_ROUNDS = 6
MAX_DEPTH = 12
_EMPTY = frozenset()
# list methods that add entries: the flow follows what they add (``Flow._grow``)
_GROWERS = frozenset({"append", "insert", "extend"})


class _Unknown:
    """Something the flow cannot name (a call into an unseen library, a value unpacked from
    one): kept next to the known values of a slot, so no query mistakes *may* for *must*."""

    def __repr__(self):
        return "UNKNOWN"


UNKNOWN = _Unknown()
_UNKNOWN_SET = frozenset((UNKNOWN,))


class Instance:
    """An object of a class defined in the checked code (one per class: attributes are per
    class hierarchy, not per object)."""

    __slots__ = ("cls",)

    def __init__(self, cls):
        self.cls = cls

    def __repr__(self):
        return f"Instance({self.cls.name})"


class Seq:
    """A list, tuple or dict literal: ``items`` are the value sets of its entries in order
    (dict values for a dict), ``keys`` the dict's string keys in the same order."""

    __slots__ = ("node", "items", "keys")

    def __init__(self, node, items, keys=None):
        self.node = node
        self.items = items
        self.keys = keys

    def elements(self) -> frozenset:
        out = set()
        for item in self.items:
            out |= item
        return frozenset(out)

    def __repr__(self):
        return f"Seq({len(self.items)})"


_NAME, _ATTRIBUTE, _CALL = cst.Name, cst.Attribute, cst.Call
_SEQUENCES = (cst.List, cst.Tuple, cst.Set)
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp)


def _dotted(node) -> str | None:
    parts = []
    while node.__class__ is _ATTRIBUTE:
        parts.append(node.attr.value)
        node = node.value
    if node.__class__ is _NAME:
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


class Flow:
    """The solved value flow of one file (plus the in-tree modules it imports)."""

    def __init__(self, model, externals=None):
        self.model = model
        # qualified import name -> FunctionInfo/ClassInfo of another in-tree module
        self.externals = externals or {}
        self.env: dict = {}
        self._instances: dict = {}
        self._seqs: dict = {}
        self._class_root: dict = {}
        self._classes_by_name: dict = {}
        self._subclasses: dict = {}  # id(ClassInfo) -> its in-tree subclasses
        # The imported in-tree modules' statements join this file's: values cross modules
        # both ways (an optimizer into a helper, a factory's optimizer back out). So do those
        # of the modules importing this one (model.importers): the scheduler ``train.py``
        # hands ``Trainer(...)`` reaches the methods of the class defined here.
        importers = [m for m, _ in model.importers]
        self._models = [model] + self.other_models() + importers
        # id(model) -> its imports that name in-tree definitions (qualified name -> value)
        self._externals_of = {id(m): ext for m, ext in model.importers}
        self._externals_of[id(model)] = self.externals
        for m, ext in model.deeper_externals:
            self._externals_of.setdefault(id(m), ext)
        self._constructed = {}
        self._lambdas = {}
        self._assigns, self._fors, self._calls = [], [], []
        self._model_of = {}
        for m in self._models:
            self._constructed.update(m.constructed)
            self._lambdas.update(m.lambdas)
            self._assigns += m.flow_assigns
            self._fors += m.flow_fors
            self._calls += m.flow_calls
            if m.scopes:
                self._model_of[id(m.scopes[0])] = m
            for cls in m.classes:
                self._classes_by_name.setdefault(cls.name, []).append(cls)
        self._changed = False
        self._memo: dict = {}  # (scope id, dotted text) -> values, valid until env changes
        # (id of a value, depth, strict) -> (the value, may_carry's answer), as _memo
        self._carry: dict = {}
        self._slots_of = None  # id(root class) -> its attribute slots' value sets, as _memo
        self._slots_carry: dict = {}  # (id(root class), depth, strict) -> answer, as _memo
        self._reading: set = set()  # ids of the properties being read (a getter reading itself)
        self._dotted_cache: dict = {}
        self._solved = False
        self._globals: dict = {}  # (model id, name) -> top-level defs and classes
        # FunctionInfo scope -> [(calling scope, call order, call node)]
        self.callers: dict = {}
        # FunctionInfo scope -> {id(Call): (calling scope, {param: argument node} or None
        # when a ``*args`` hides which argument goes where)}
        self.arguments: dict = {}
        self._call_loops = {id(c[1]): c[3] for c in model.flow_calls}
        # key of a name unpacked from a returned tuple -> {(id(Seq), position): Seq}: which
        # element of which ``return scheduler, flag`` it took, to pair the two per return
        self._unpacked: dict = {}
        self._active_ids = None  # see _active
        self._finetuning: list = []  # Lightning BaseFinetuning callbacks (see _lightning)

    def other_models(self) -> list:
        """The models of the in-tree modules this file imports."""
        return [m for m in self.model.external_models if m is not self.model]

    def model_of(self, scope):
        """The FileModel whose code ``scope`` is."""
        while scope.parent is not None:
            scope = scope.parent
        return self._model_of.get(id(scope), self.model)

    def local_call_sites(self, scope, local_ids, depth=0) -> list:
        """(scope, order, Call, loop) of the calls in this file's scopes (ids ``local_ids``)
        that reach ``scope`` through calls."""
        self.solve()
        if depth > 6:
            return []
        out = []
        for caller, order, call in self.callers.get(id(scope), ()):
            if id(caller) in local_ids:
                out.append((caller, order, call, self._call_loops.get(id(call))))
            elif caller.kind == "function":
                out += self.local_call_sites(caller, local_ids, depth + 1)
        return out

    # -- keys ------------------------------------------------------------------------------------
    def root_class(self, cls):
        """The top in-file ancestor of ``cls`` (attributes of a hierarchy share slots)."""
        seen = 0
        while seen < 16:
            seen += 1
            parent = None
            for base in cls.bases:
                for cand in self._classes_by_name.get(base.rpartition(".")[2], ()):
                    if cand is not cls:
                        parent = cand
                        break
                if parent is not None:
                    break
            if parent is None:
                return cls
            cls = parent
        return cls

    def key(self, scope, text):
        head = text.partition(".")[0].partition("[")[0]
        if head in ("self", "cls") and "." in text:
            s = scope
            while s is not None and s.cls is None:
                s = s.parent
            if s is not None:
                return ("class", id(self.root_class(s.cls)), text)
        s, first = scope, True
        while s is not None:
            if (s.kind != "class" or first) and (head in s.assigned or head in s.params):
                return (id(s), text)
            first = False
            if s.parent is None:
                return (id(s), text)
            s = s.parent
        return None

    def _add(self, key, values) -> None:
        if key is None or not values:
            return
        cur = self.env.get(key)
        if cur is None:
            self.env[key] = set(values)
        elif not values <= cur:
            cur |= values
        else:
            return
        self._changed = True
        self._memo.clear()
        self._carry.clear()
        self._slots_of = None
        self._slots_carry.clear()

    # -- evaluation ------------------------------------------------------------------------------
    def dotted(self, node) -> str | None:
        """``a.b.c`` for a Name/Attribute chain (cached per node), else None."""
        key = id(node)
        try:
            return self._dotted_cache[key]
        except KeyError:
            text = self._dotted_cache[key] = _dotted(node)
            return text

    def eval(self, node, scope, depth=0) -> frozenset:
        """Every abstract value ``node`` (an expression read in ``scope``) may hold."""
        if depth > MAX_DEPTH or node is None:
            return _EMPTY
        entity = self._constructed.get(id(node))
        if entity is not None:
            return frozenset((entity,))
        cls = node.__class__  # class identity: libcst nodes make isinstance go through abc
        if cls is _NAME or cls is _ATTRIBUTE:
            return self._eval_ref(node, scope, depth)
        if cls is _CALL:
            return self._eval_call(node, scope, depth)
        if cls in _SEQUENCES:
            items = tuple(
                self.eval(e.value, scope, depth + 1)
                for e in node.elements
                if isinstance(e, cst.Element)
            )
            return self._seq(node, items, None)
        if cls is cst.Dict:
            items, keys = [], []
            for el in node.elements:
                if isinstance(el, cst.DictElement):
                    items.append(self.eval(el.value, scope, depth + 1))
                    keys.append(
                        el.key.evaluated_value if isinstance(el.key, cst.SimpleString) else None
                    )
            return self._seq(node, tuple(items), tuple(keys))
        if cls in _COMPREHENSIONS:
            # one item standing for every element: ``[get_scheduler(o, opt) for o in opts]``
            item = self.eval(node.elt, scope, depth + 1)
            return self._seq(node, (item,), None)
        if cls is cst.DictComp:
            return self._seq(node, (self.eval(node.value, scope, depth + 1),), (None,))
        if cls is cst.Subscript:
            index = None
            if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
                index = _index_text(node.slice[0].slice.value)
            values = self.eval(node.value, scope, depth + 1)
            return _indexed(values, index, unknown=False)
        if cls is cst.IfExp:
            return self.eval(node.body, scope, depth + 1) | self.eval(node.orelse, scope, depth + 1)
        if cls is cst.BooleanOperation:
            return self.eval(node.left, scope, depth + 1) | self.eval(node.right, scope, depth + 1)
        if cls is cst.Lambda:
            info = self._lambdas.get(id(node))
            return frozenset((info,)) if info is not None else _EMPTY
        if cls is cst.NamedExpr:
            return self.eval(node.value, scope, depth + 1)
        return _EMPTY

    def _seq(self, node, items, keys) -> frozenset:
        """One Seq per literal; its items grow as the fixpoint learns more."""
        if not any(items):
            return _EMPTY
        seq = self._seqs.get(id(node))
        if seq is None:
            seq = self._seqs[id(node)] = Seq(node, items, keys)
        elif len(seq.items) == len(items):
            merged = tuple(a | b for a, b in zip(seq.items, items))
            if merged != seq.items:
                seq.items = merged
                self._changed = True
        return frozenset((seq,))

    def eval_text(self, scope, text) -> frozenset:
        """Values of the dotted name ``text`` read in ``scope``, or of one subscript of it
        (``self.optimizers['disc']``, the text :func:`builder.reference` gives)."""
        if not text or "<" in text:
            return _EMPTY
        if "[" in text:
            return self._eval_subscript_text(scope, text)
        memo_key = (id(scope), text)
        found = self._memo.get(memo_key)
        if found is None:
            found = self._memo[memo_key] = self._eval_text(scope, text)
        return found

    def _eval_subscript_text(self, scope, text) -> frozenset:
        head, bracket, index = text.partition("[")
        if not bracket or not index.endswith("]") or "[" in index or "." in index:
            return _EMPTY
        memo_key = (id(scope), text)
        found = self._memo.get(memo_key)
        if found is None:
            found = self._memo[memo_key] = _indexed(self.eval_text(scope, head), index[:-1])
        return found

    def _eval_text(self, scope, text) -> frozenset:
        out = set(self.env.get(self.key(scope, text), ()))
        head, _, rest = text.rpartition(".")
        if head:
            for v in self.eval_text(scope, head):
                out |= self._attribute(v, rest)
            if not out:
                out |= self._reexported(scope, text)
            if not out:
                out |= self._self_property(scope, head, rest)
        elif not out:
            out |= self._global(scope, text)
            if not out and _is_classmethod(scope) and scope.params[:1] == (text,):
                # ``cls(model, optimizer, scheduler)`` in ``Trainer.from_config``
                out.add(scope.cls)
        return frozenset(out)

    def _eval_ref(self, node, scope, depth) -> frozenset:
        text = self.dotted(node)
        if text is not None:
            return self.eval_text(scope, text)
        if node.__class__ is _ATTRIBUTE:
            out = set()
            for v in self.eval(node.value, scope, depth + 1):
                out |= self._attribute(v, node.attr.value)
            return frozenset(out)
        return _EMPTY

    def _attribute(self, value, attr) -> set:
        if isinstance(value, Instance):
            root = self.root_class(value.cls)
            out = set(self.env.get(("class", id(root), f"self.{attr}"), ()))
            method = self.method(value.cls, attr)
            if method is not None and _is_property(method):
                out |= self._property(method)
            elif method is not None:
                out.add(_Bound(method))
            return out
        if isinstance(value, ClassInfo):
            method = self.method(value, attr)
            return {method} if method is not None else set()

        if isinstance(value, ModuleRef):
            found = top_level(value.model, attr)
            out = {found} if found is not None else set()
            if value.model.scopes:
                out |= self.env.get((id(value.model.scopes[0]), attr), set())
            return out
        return set()

    def _reexported(self, scope, text) -> set:
        """What an attribute chain of an imported package names, as resolved through its
        re-exports (``reidlib.optim.build_lr_scheduler`` of ``import reidlib``)."""
        model = self.model_of(scope)
        externals = self._externals_of.get(id(model))
        if not externals:
            return set()
        first, _, rest = text.partition(".")
        qualified = model.imports.get(first)
        found = externals.get(f"{qualified}.{rest}") if qualified else None
        return {found} if found is not None else set()

    def _property(self, getter) -> frozenset:
        """What the getter returns: ``model.optimizer`` read through ``@property def
        optimizer(self): return self._optimizer``, a class's public handle on what it built."""
        if id(getter) in self._reading:
            return _EMPTY  # a getter that reads itself
        self._reading.add(id(getter))
        try:
            return self.returns(getter)
        finally:
            self._reading.discard(id(getter))

    def _self_property(self, scope, head, attr) -> frozenset:
        """``self.optimizer`` in a method, where ``optimizer`` is a property of the class
        (``self`` itself has no value here: its attributes are read by their keys)."""
        if head not in ("self", "cls") or "." in attr:
            return _EMPTY
        s = scope
        while s is not None and s.cls is None:
            s = s.parent
        method = self.method(s.cls, attr) if s is not None else None
        if method is None or not _is_property(method):
            return _EMPTY
        return self._property(method)

    def method(self, cls, name) -> FunctionInfo | None:
        """``name`` looked up on ``cls`` and its in-file bases."""
        seen = 0
        todo = [cls]
        while todo and seen < 16:
            c = todo.pop(0)
            seen += 1
            if name in c.methods:
                return c.methods[name]
            for base in c.bases:
                todo += [
                    b for b in self._classes_by_name.get(base.rpartition(".")[2], ()) if b is not c
                ]
        return None

    def _overrides(self, cls, name) -> list:
        """The methods ``name`` of the in-tree subclasses of ``cls`` (of the flow's modules)
        that define one of their own: what ``self.name()`` in ``cls`` may run."""
        subclasses = self._subclasses.get(id(cls))
        if subclasses is None:
            subclasses = self._subclasses[id(cls)] = [
                c
                for group in self._classes_by_name.values()
                for c in group
                if c is not cls and self.derives(c, cls)
            ]
        return [c.methods[name] for c in subclasses if name in c.methods]

    def derives(self, cls, base) -> bool:
        """``base`` is an in-tree ancestor of ``cls`` (bases looked up by name, bounded)."""
        seen, todo = 0, [cls]
        while todo and seen < 16:
            c = todo.pop(0)
            seen += 1
            for b in c.bases:
                for cand in self._classes_by_name.get(b.rpartition(".")[2], ()):
                    if cand is base:
                        return True
                    if cand is not c:
                        todo.append(cand)
        return False

    def _global(self, scope, name) -> set:
        """A def, lambda-less class or imported in-tree definition named ``name``."""
        model = self.model_of(scope)
        out = {
            f
            for f in model.functions.get(name, ())
            if f.scope.cls is None
            and f.scope.parent is not None
            and f.scope.parent.kind != "class"
            and _visible(f.scope.parent, scope)
        }
        classes = self._globals.get(id(model))
        if classes is None:
            classes = self._globals[id(model)] = {}
            for cls in model.classes:
                classes.setdefault(cls.name, []).append(cls)
        out.update(classes.get(name, ()))
        externals = self._externals_of.get(id(model))
        if not out and externals:
            qualified = model.imports.get(name)
            ext = externals.get(qualified) if qualified else None
            if ext is not None:
                out.add(ext)
        return out

    def instance(self, cls) -> Instance:
        inst = self._instances.get(id(cls))
        if inst is None:
            inst = self._instances[id(cls)] = Instance(cls)
        return inst

    def callees(self, call, scope, depth=0) -> list:
        """(FunctionInfo, parameters to skip) a call may run; a class call runs ``__init__``."""
        out = []
        func = call.func
        text = self.dotted(func)
        if text in ("functools.partial", "partial") and call.args:
            return out  # handled by _eval_call
        values = self.eval(func, scope, depth + 1)
        if (
            func.__class__ is _ATTRIBUTE
            and text is not None
            and text.partition(".")[0] in ("self", "cls")
            and text.count(".") == 1
        ):
            cls = _enclosing_class(scope)
            if cls is not None:
                m = self.method(cls, func.attr.value)
                if m is not None:
                    values = values | {_Bound(m)}
                # a template method: the base's ``__init__`` calls ``self.configure_optimizers()``,
                # which a subclass (here or in a module lent to the flow) overrides
                values = values | {_Bound(o) for o in self._overrides(cls, func.attr.value)}
        if (
            func.__class__ is _ATTRIBUTE
            and func.value.__class__ is _CALL
            and self.dotted(func.value.func) == "super"
        ):
            # ``super().__init__(model, optimizer, scheduler)``: the in-tree base's method
            cls = _enclosing_class(scope)
            for base in cls.bases if cls is not None else ():
                found = [
                    self.method(b, func.attr.value)
                    for b in self._classes_by_name.get(base.rpartition(".")[2], ())
                    if b is not cls
                ]
                if len(found) == 1 and found[0] is not None:
                    values = values | {_Bound(found[0])}
                    break
        for v in values:
            if isinstance(v, _Bound):
                out.append((v.fn, 0 if _decorated(v.fn.node, "staticmethod") else 1))
            elif isinstance(v, FunctionInfo):
                method = v.scope.cls is not None and not isinstance(v.node, cst.Lambda)
                out.append((v, 1 if method and not _decorated(v.node, "staticmethod") else 0))
            elif isinstance(v, ClassInfo):
                init = self.method(v, "__init__")
                if init is not None:
                    out.append((init, 1))
            elif isinstance(v, _Partial):
                out.append((v.fn, v.skip))
            elif isinstance(v, Instance):
                # a factory object called like a function (``make_sched = Maker(...)``, then
                # ``make_sched(optimizer)``) runs its ``__call__``
                call_method = self.method(v.cls, "__call__")
                if call_method is not None:
                    out.append((call_method, 1))
        return out

    def _eval_call(self, call, scope, depth) -> frozenset:
        func = call.func
        if self.dotted(func) in ("functools.partial", "partial") and call.args:
            short = self._partial_scheduler(call, scope)
            if short is not None:
                return frozenset((SchedulerPartial(call, scope, short),))
            out = set()
            for v in self.eval(call.args[0].value, scope, depth + 1):
                if isinstance(v, FunctionInfo):
                    out.add(_Partial(v, len([a for a in call.args[1:] if a.keyword is None])))
            return frozenset(out)
        out = set()
        keyed = bool(call.args) and all(a.keyword is not None for a in call.args)
        for v in self.eval(func, scope, depth + 1):
            if isinstance(v, ClassInfo):
                if keyed and any(b.rpartition(".")[2] == "TypedDict" for b in v.bases):
                    # ``TrainState(model=model, optimizer=optimizer)``: a plain dict
                    return self._keyword_dict(call, scope, depth)
                out.add(self.instance(v))
        text = self.dotted(func)
        if text == "dict" and keyed:
            return self._keyword_dict(call, scope, depth)
        if text in ("list", "tuple") and len(call.args) == 1 and call.args[0].keyword is None:
            # a copy of a list or tuple holds its entries: ``self.hooks = list(hooks)``
            if not call.args[0].star:
                out |= {
                    v for v in self.eval(call.args[0].value, scope, depth + 1) if isinstance(v, Seq)
                }
            return frozenset(out)
        if text in (OPTIMIZERS_CALL, SCHEDULERS_CALL) and not call.args:
            # what Lightning hands back from configure_optimizers (seeded by _lightning)
            out |= self.env.get(self.key(scope, text + "()"), _EMPTY)
        if (
            func.__class__ is _ATTRIBUTE
            and func.attr.value in ("values", "items", "keys")
            and not call.args
        ):
            for v in self.eval(func.value, scope, depth + 1):
                if isinstance(v, Seq):
                    out.add(v)
            return frozenset(out)
        if (
            func.__class__ is _ATTRIBUTE
            and func.attr.value == "prepare"
            and call.args
            and not any(a.star or a.keyword is not None for a in call.args)
        ):
            # accelerate's prepare hands back what it is given, wrapped, in the same order
            # (``self.model, self.optimizer, self.scheduler = accelerator.prepare(...)``)
            items = tuple(self.eval(a.value, scope, depth + 1) for a in call.args)
            out |= items[0] if len(items) == 1 else {Seq(call, items)}
        if text is not None and text.rpartition(".")[2] == "initialize":
            head, dot, rest = text.partition(".")
            base = self.model_of(scope).imports.get(head, head)
            if (f"{base}.{rest}" if dot else base) in DEEPSPEED_INITIALIZE:
                # ``engine, optimizer, loader, lr_scheduler = deepspeed.initialize(...)``: the
                # fourth is the scheduler it was given (engine.lr_scheduler)
                handed = deepspeed_argument(call, "lr_scheduler")
                sched = self.eval(handed, scope, depth + 1) if handed is not None else _EMPTY
                out |= self._seq(call, (_UNKNOWN_SET,) * 3 + (sched or _UNKNOWN_SET,), None)
                return frozenset(out)
        for fn, _ in self.callees(call, scope, depth):
            out |= self.returns(fn, depth + 1)
        return frozenset(out)

    def partial_only(self, node, scope) -> bool:
        """``node`` (read in ``scope``) holds ``functools.partial`` s of scheduler classes,
        and nothing else."""
        values = self.solve().eval(node, scope)
        return bool(values) and all(v.__class__ is SchedulerPartial for v in values)

    def _partial_call(self, call, scope) -> bool:
        """``call`` calls a ``functools.partial`` of a scheduler class, and nothing else."""
        values = self.eval(call.func, scope)
        return (
            bool(values)
            and all(isinstance(v, SchedulerPartial) or v is UNKNOWN for v in values)
            and any(isinstance(v, SchedulerPartial) for v in values)
        )

    def _partial_scheduler(self, call, scope) -> str | None:
        """The torch or Hugging Face scheduler class ``partial(cls, ...)`` binds, else None."""
        first = call.args[0]
        text = self.dotted(first.value)
        if first.star or first.keyword is not None or text is None:
            return None
        head, dot, rest = text.partition(".")
        base = self.model_of(scope).imports.get(head, head)
        return catalogue.scheduler_class(f"{base}.{rest}" if dot else base)

    def _keyword_dict(self, call, scope, depth) -> frozenset:
        """``dict(model=m, optimizer=opt)``: the dict its keywords spell, as a literal is."""
        items = tuple(self.eval(a.value, scope, depth + 1) for a in call.args)
        return self._seq(call, items, tuple(a.keyword.value for a in call.args))

    def returns(self, fn, depth=0) -> frozenset:
        out = set()
        for r in fn.returns:
            out |= self.eval(r.node, fn.scope, depth + 1)
        return frozenset(out)

    # -- constraints -----------------------------------------------------------------------------
    def _relevant_calls(self) -> list:
        """The calls whose callee can be code of the tree: ``self.m``, a local def or class,
        a name some code binds, an in-tree import. ``torch.zeros(x)``, ``len(x)`` and other
        library calls can never bind a parameter here, so they are dropped once."""
        heads = {"self", "cls"}
        for m in self._models:
            externals = self._externals_of.get(id(m), {})
            imported = {name for name, q in m.imports.items() if q not in externals}
            for scope in m.scopes:
                heads |= (scope.assigned | set(scope.params)) - imported
        out = []
        for entry in self._calls:
            text = self.dotted(entry[1].func)
            if text is None or text.partition(".")[0] in heads:
                out.append(entry)
        return out

    def solve(self) -> Flow:
        """Run the fixpoint (once; the queries below call it, so a file whose facts all
        resolve by name never pays for it)."""
        if self._solved:
            return self
        self._solved = True
        self._calls = self._relevant_calls()
        modules = [
            (cls, fn)
            for m in self._models
            for cls in m.classes
            for fn in [self.method(cls, CONFIGURE_HOOK)]
            if fn is not None
        ]
        self._finetuning = [
            cls for m in self._models for cls in m.classes if is_finetuning_callback(cls)
        ]
        for _ in range(MAX_ROUNDS):
            self._changed = False
            for cls, fn in modules:
                self._lightning(cls, fn)
            for scope, target, value in self._assigns:
                if value.__class__ is _NAME and value.value == "None":
                    # ``scheduler = None`` before ``if cfg.sched: scheduler = StepLR(...)``:
                    # the slot may stay empty, which hides no other object it could hold
                    continue
                values = self.eval(value, scope)
                if not values and value.__class__ is _CALL and self._partial_call(value, scope):
                    # ``self.sched = self.sched(opt)`` of a partial: the builder settles it as
                    # that scheduler's construction, which hides nothing else
                    continue
                self._assign(scope, target, values)
            for scope, target, iter_node in self._fors:
                pairs = _paired_iteration(target, iter_node)
                if pairs is not None:
                    # ``for i, o in enumerate(self.optimizers)``, ``for o, s in zip(opts, scheds)``
                    for element, source in pairs:
                        found = set()
                        for v in self.eval(source, scope):
                            if isinstance(v, Seq) and v.keys is None:
                                found |= v.elements()
                        if found:
                            self._assign(scope, element, frozenset(found))
                    continue
                elements = set()
                for v in self.eval(iter_node, scope):
                    if isinstance(v, Seq):
                        if v.keys is not None and _items_call(iter_node):
                            elements.add(Seq(None, (frozenset(), v.elements())))
                        else:
                            elements |= v.elements()
                if elements:
                    self._assign(scope, target, frozenset(elements))
            for scope, call, order, _ in self._calls:
                self._bind_call(scope, call, order)
                self._grow(scope, call)
            if not self._changed:
                break
        return self

    def _lightning(self, cls, configure) -> None:
        """Lightning hands what ``configure_optimizers`` returns back to the module: the
        optimizers to ``optimizer_step(..., optimizer, ...)`` and the other optimizer hooks, to
        ``self.optimizers()`` and ``self.trainer.optimizers``; the schedulers to
        ``self.lr_schedulers()`` and ``lr_scheduler_step``."""
        optimizers, schedulers = [], []
        _returned_objects(self.returns(configure), optimizers, schedulers, 0)
        root = ("class", id(self.root_class(cls)))
        for found, call, hooks in (
            (optimizers, OPTIMIZERS_CALL, OPTIMIZER_HOOKS),
            (schedulers, SCHEDULERS_CALL, SCHEDULER_HOOKS),
        ):
            if not found:
                continue
            listed = self._listed(cls, call, found)
            self._add((*root, call + "()"), frozenset(found) if len(found) == 1 else listed)
            if call == OPTIMIZERS_CALL:
                self._add((*root, TRAINER_OPTIMIZERS), listed)
            for hook in hooks:
                fn = self.method(cls, hook)
                param = hook_parameter(fn, hook) if fn is not None else None
                if param is not None:
                    self._add((id(fn.scope), param), frozenset(found))
        # the trainer fitting this module hands its optimizers to a BaseFinetuning callback's
        # ``finetune_function`` (any such callback of the code read: which trainer gets which
        # callback is not followed)
        for callback in self._finetuning:
            for hook in FINETUNING_HOOKS:
                fn = self.method(callback, hook)
                param = hook_parameter(fn, hook) if fn is not None else None
                if param is not None and optimizers:
                    self._add((id(fn.scope), param), frozenset(optimizers))

    def _listed(self, cls, call, found) -> frozenset:
        """One list per module and accessor (stable across rounds), its items in order."""
        items = tuple(frozenset((v,)) for v in found)
        key = ("lightning", id(cls), call)
        seq = self._seqs.get(key)
        if seq is None:
            seq = self._seqs[key] = Seq(None, items)
        elif seq.items != items:
            seq.items = items
            self._changed = True
        return frozenset((seq,))

    def _assign(self, scope, target, values) -> None:
        if not values:
            # an unseen value: it matters only for a slot that holds something known
            text = self.dotted(target)
            key = self.key(scope, text) if text is not None else None
            if key in self.env:
                self._add(key, _UNKNOWN_SET)
            return
        text = self.dotted(target)
        if text is not None:
            if "." in text and text.partition(".")[0] not in ("self", "cls"):
                head, _, attr = text.rpartition(".")
                for v in self.eval_text(scope, head):
                    if isinstance(v, Instance):
                        self._add(("class", id(self.root_class(v.cls)), f"self.{attr}"), values)
            self._add(self.key(scope, text), values)
            return
        if isinstance(target, (cst.Tuple, cst.List)):
            elements = [e.value for e in target.elements]
            for v in values:
                if isinstance(v, Seq) and len(v.items) == len(elements) and v.keys is None:
                    for i, t in enumerate(elements):
                        if isinstance(t, cst.Name):
                            seen = self._unpacked.setdefault(self.key(scope, t.value), {})
                            seen[(id(v), i)] = v
                    for t, item in zip(elements, v.items):
                        self._assign(scope, t, item)

    def _grow(self, scope, call) -> None:
        """``self.schedulers.append(StepLR(...))`` (also ``insert``, ``extend``): the list
        may hold what is added, as one entry standing for every element (positions are not
        followed, as for a comprehension). An unseen value added to a list that holds
        something known makes it uncertain."""
        func = call.func
        if func.__class__ is not _ATTRIBUTE or func.attr.value not in _GROWERS:
            return
        args = call.args
        if any(a.keyword is not None or a.star for a in args):
            return
        method = func.attr.value
        if method == "insert":
            if len(args) != 2:
                return
            added = self.eval(args[1].value, scope)
        elif len(args) != 1:
            return
        elif method == "extend":
            added = frozenset(
                x
                for v in self.eval(args[0].value, scope)
                if isinstance(v, Seq)
                for x in v.elements()
            )
        else:
            added = self.eval(args[0].value, scope)
        text = self.dotted(func.value)
        if text is None:
            return
        if not added or UNKNOWN in added and len(added) == 1:
            if self.key(scope, text) in self.env:
                self._add(self.key(scope, text), self._seq(call, (_UNKNOWN_SET,), None))
            return
        self._assign(scope, func.value, self._seq(call, (added,), None))

    def _bind_call(self, scope, call, order) -> None:
        targets = self.callees(call, scope)
        if not targets:
            self._bind_base_optimizer(scope, call)
            return
        positional = [a for a in call.args if a.keyword is None and not a.star]
        starred = any(a.star for a in call.args)
        for fn, skip in targets:
            callers = self.callers.setdefault(id(fn.scope), [])
            entry = (scope, order, call)
            if entry not in callers:
                callers.append(entry)
            params = fn.params[skip:]
            bound = []
            if not starred:
                bound += [(p, a) for p, a in zip(params, positional)]
            bound += [
                (a.keyword.value, a)
                for a in call.args
                if a.keyword is not None and a.keyword.value in fn.params
            ]
            self.arguments.setdefault(id(fn.scope), {})[id(call)] = (
                scope,
                None if starred else {p: a.value for p, a in bound},
            )
            for p, a in bound:
                values = self.eval(a.value, scope)
                key = (id(fn.scope), p)
                self._add(key, values if values else _UNKNOWN_SET if key in self.env else values)
            self._bind_keywords(scope, call, fn)

    def _bind_keywords(self, scope, call, fn) -> None:
        """The keywords no named parameter takes land in ``**kwargs`` as a dict keyed by
        them, so ``self.scheduler = kwargs["scheduler"]`` (SimCLR's trainer) holds what
        ``SimCLR(model=model, scheduler=scheduler)`` passed."""
        star = getattr(getattr(fn.node, "params", None), "star_kwarg", None)
        if not isinstance(star, cst.Param):
            return
        extra = [a for a in call.args if a.keyword is not None and a.keyword.value not in fn.params]
        if not extra or any(a.star == "**" for a in call.args):
            return
        items = tuple(self.eval(a.value, scope) for a in extra)
        self._add(
            (id(fn.scope), star.name.value),
            self._seq(call, items, tuple(a.keyword.value for a in extra)),
        )

    def _bind_base_optimizer(self, scope, call) -> None:
        """``super().__init__(optimizer, ...)`` in a subclass of a library scheduler: torch's
        ``LRScheduler.__init__`` stores ``self.optimizer``, which the subclass's own methods
        then read (``for g in self.optimizer.param_groups``)."""
        func = call.func
        if (
            func.__class__ is not _ATTRIBUTE
            or func.attr.value != "__init__"
            or func.value.__class__ is not _CALL
            or self.dotted(func.value.func) != "super"
        ):
            return
        cls = _enclosing_class(scope)
        if cls is None or not cls.is_scheduler_subclass:
            return
        arg = next(
            (a for a in call.args if a.keyword is not None and a.keyword.value == "optimizer"),
            None,
        )
        if arg is None:
            if not call.args or call.args[0].keyword is not None or call.args[0].star:
                return
            arg = call.args[0]
        self._add(self.key(scope, "self.optimizer"), self.eval(arg.value, scope))

    # -- numbers ---------------------------------------------------------------------------------
    def number(self, node, scope, depth=0) -> float | None:
        """The number ``node`` certainly is: literals, arithmetic, names bound once to a
        number, and ``args.x`` where ``args = parser.parse_args()`` and ``--x`` has a literal
        ``default``."""

        if depth > 8 or node is None:
            return None
        n = fold_number(node)
        if n is not None:
            return n
        if isinstance(node, cst.BinaryOperation):
            left = self.number(node.left, scope, depth + 1)
            right = self.number(node.right, scope, depth + 1) if left is not None else None
            if right is None:
                return None
            return fold_binary(node.operator, left, right)
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            inner = self.number(node.expression, scope, depth + 1)
            return -inner if inner is not None else None
        text = _dotted(node)
        if text is None:
            return None
        if "." not in text:
            values = self._assigned().get(self.key(scope, text))
            if values is None or len(values) != 1:
                return None
            value, owner = values[0]
            return self.number(value, owner, depth + 1)
        head, _, attr = text.partition(".")
        if "." in attr:
            return None
        values = self._assigned().get(self.key(scope, head))
        if values and len(values) == 1 and _is_parse_args(values[0][0]):
            return self._defaults().get(attr)
        return None

    def is_float(self, node, scope, depth=0) -> bool:
        """``node`` certainly evaluates to a Python float: a float literal, a true division,
        arithmetic with a float operand, ``float(...)``, a name every binding of which is
        one (``frac = 0.3``; ``f`` of ``for f in (0.3, 0.6)``, comprehensions included).
        Unknown values, ``int(...)``, ``round(x)`` and ``//`` of integers are not."""
        if depth > 8 or node is None:
            return False
        cls = node.__class__
        if cls is cst.Float:
            return True
        if cls is cst.UnaryOperation:
            return self.is_float(node.expression, scope, depth + 1)
        if cls is cst.BinaryOperation:
            if node.operator.__class__ is cst.Divide:
                return True
            if node.operator.__class__ in (cst.BitAnd, cst.BitOr, cst.BitXor, cst.MatrixMultiply):
                return False
            return self.is_float(node.left, scope, depth + 1) or self.is_float(
                node.right, scope, depth + 1
            )
        if cls is cst.IfExp:
            return self.is_float(node.body, scope, depth + 1) and self.is_float(
                node.orelse, scope, depth + 1
            )
        if cls is _CALL:
            return (
                node.func.__class__ is _NAME
                and node.func.value == "float"
                and "float" not in self._bound_anywhere()
            )
        if cls is not _NAME or node.value in scope.params:
            return False
        key = self.key(scope, node.value)
        values = self._assigned().get(key)
        if not values:
            return False
        iterables = self._for_iterables().get(key, [])
        assigned = [(v, s) for v, s in values if v is not None]
        if len(assigned) + len(iterables) != len(values):
            return False
        for value, owner in assigned:
            if not self.is_float(value, owner, depth + 1):
                return False
        for iterable, owner in iterables:
            entries = self.entries(iterable, owner, depth + 1)
            if not entries or not all(self.is_float(e, s, depth + 1) for e, s in entries):
                return False
        return True

    def entries(self, node, scope, depth=0) -> list | None:
        """(entry node, scope) of each item a sequence expression certainly holds: a list or
        tuple literal's items, a comprehension's element (one, standing for every item), the
        same through a name bound once to one; None when unknown."""
        if depth > 8 or node is None:
            return None
        cls = node.__class__
        if cls in (cst.List, cst.Tuple):
            if any(e.__class__ is not cst.Element for e in node.elements):
                return None  # *rest
            return [(e.value, scope) for e in node.elements]
        if cls in _COMPREHENSIONS:
            return [(node.elt, scope)]
        if cls is not _NAME or node.value in scope.params:
            return None
        values = self._assigned().get(self.key(scope, node.value))
        if values is None or len(values) != 1 or values[0][0] is None:
            return None
        value, owner = values[0]
        return self.entries(value, owner, depth + 1)

    def constant_dict(self, node, scope) -> list | None:
        """(key node, value node, scope) of each entry of the dict literal a module-level
        name ``node`` reads is bound to, once (``LR_MULTS = {"backbone": 0.1, "head":
        1.0}``); None for another name, or a dict with ``**rest``."""
        if node.__class__ is not _NAME:
            return None
        values = self._assigned().get(self.key(scope, node.value))
        if values is None or len(values) != 1:
            return None
        value, owner = values[0]
        if owner.kind != "module" or value.__class__ is not cst.Dict:
            return None
        if any(e.__class__ is not cst.DictElement for e in value.elements):
            return None
        return [(e.key, e.value, owner) for e in value.elements]

    def _for_iterables(self) -> dict:
        """key of a name a ``for`` (or comprehension) binds -> [(iterable, scope)], for plain
        name targets."""
        table = getattr(self, "_for_table", None)
        if table is None:
            table = self._for_table = {}
            for scope, target, iterable in self._fors:
                if isinstance(target, cst.Name):
                    table.setdefault(self.key(scope, target.value), []).append((iterable, scope))
        return table

    def _bound_anywhere(self) -> frozenset:
        """Every plain name some code of the flow assigns or binds as a parameter (a
        shadowed builtin such as ``float`` is then not the builtin)."""
        names = getattr(self, "_bound_names", None)
        if names is None:
            names = set()
            for m in self._models:
                for s in m.scopes:
                    names |= s.assigned | set(s.params)
            names = self._bound_names = frozenset(names)
        return names

    def _assigned(self) -> dict:
        table = getattr(self, "_assigned_table", None)
        if table is None:
            table = self._assigned_table = {}
            for scope, target, value in self._assigns:
                if isinstance(target, cst.Name):
                    table.setdefault(self.key(scope, target.value), []).append((value, scope))
            for scope, target, _ in self._fors:
                for name in _names(target):
                    table.setdefault(self.key(scope, name), []).append((None, scope))
        return table

    def _defaults(self) -> dict:
        table = getattr(self, "_defaults_table", None)
        if table is None:
            table = self._defaults_table = {}
            for _, call, _, _ in self.model.flow_calls:
                func = call.func
                if not (isinstance(func, cst.Attribute) and func.attr.value == "add_argument"):
                    continue
                flags = [
                    a.value.evaluated_value
                    for a in call.args
                    if a.keyword is None and isinstance(a.value, cst.SimpleString)
                ]
                longs = [f for f in flags if isinstance(f, str) and f.startswith("--")]
                kw = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
                dest = (
                    kw["dest"].evaluated_value
                    if isinstance(kw.get("dest"), cst.SimpleString)
                    else longs[0][2:].replace("-", "_")
                    if longs
                    else None
                )
                default = fold_number(kw["default"]) if "default" in kw else None
                if dest and default is not None:
                    table[dest] = default if dest not in table or table[dest] == default else None
        return table

    # -- queries ---------------------------------------------------------------------------------
    def optimizers(self, scope, text) -> list:
        self.solve()
        return _ordered(v for v in self.eval_text(scope, text) if isinstance(v, Optimizer))

    def schedulers(self, scope, text) -> list:
        self.solve()
        return _ordered(v for v in self.eval_text(scope, text) if isinstance(v, Scheduler))

    def may_carry(self, values, depth=0, strict=False) -> bool:
        """Can one of ``values``, handed to a helper of another module, bring it an optimizer
        or scheduler of this code, or code that acts on one? An optimizer or scheduler; a
        container holding one; an instance or class defined here (the helper may store one
        in it); an imported class's instance whose methods act on one or whose attributes
        hold one; a function whose code acts on one, calls code that does, or returns one.
        Not: a function that only transforms what it is given, or a value the flow cannot
        name (reading the helper would not name it either). ``strict``: an instance or
        class counts only when its attributes hold one, a function only when it returns
        one (asked for a module's imports a level further, where a dataset built with an
        augmentor whose code calls ``step()`` on its own objects is not worth reading)."""
        self.solve()
        if depth > 4:
            return not strict
        for v in values:
            if v is UNKNOWN:
                continue
            if isinstance(v, (Seq, Instance, ClassInfo, FunctionInfo, _Bound)):
                if self._carries(v, depth, strict):
                    return True
            elif not strict or isinstance(v, (Optimizer, Scheduler)):
                return True  # Optimizer, Scheduler, ModuleRef, a partial application
        return False

    def _carries(self, v, depth, strict) -> bool:
        """:meth:`may_carry` of one container, class or function at ``depth``. The answer
        depends on nothing else once the flow is solved, and the same classes are met again
        and again through each other's attributes (a dialog whose pages hold each other's
        widgets): without remembering it, the search is exponential in the depth."""
        if isinstance(v, Instance):
            v = v.cls
        elif isinstance(v, _Bound):
            v = v.fn
        key = (id(v), depth, strict)
        found = self._carry.get(key)
        if found is not None and found[0] is v:
            return found[1]
        if isinstance(v, Seq):
            answer = self.may_carry(v.elements(), depth + 1, strict)
        elif isinstance(v, ClassInfo):
            answer = self._carrying_class(v, depth, strict)
        else:
            answer = (
                not strict
                and id(v.scope) in self._active()
                or self.may_carry(self.returns(v), depth + 1, strict)
            )
        self._carry[key] = (v, answer)
        return answer

    def _carrying_class(self, cls, depth, strict=False) -> bool:
        if not strict and all(cls is not c for m in self.other_models() for c in m.classes):
            return True  # defined in this file (or a module lending its calls of it)
        active, root = self._active(), self.root_class(cls)
        todo, seen = [cls], set()
        while todo and len(seen) < 16:
            c = todo.pop()
            seen.add(id(c))
            if not strict and any(id(m.scope) in active for m in c.methods.values()):
                return True
            for base in c.bases:
                todo += [
                    b
                    for b in self._classes_by_name.get(base.rpartition(".")[2], ())
                    if id(b) not in seen
                ]
        # the widgets of a GUI toolkit share one root (tkinter's Misc): asked once for all
        key = (id(root), depth, strict)
        found = self._slots_carry.get(key)
        if found is None:
            found = self._slots_carry[key] = any(
                self.may_carry(values, depth + 1, strict) for values in self._slots(root)
            )
        return found

    def _slots(self, root) -> list:
        """The value sets of the attribute slots of the class hierarchy rooted at ``root``."""
        if self._slots_of is None:
            self._slots_of = {}
            for k, values in self.env.items():
                if k[0] == "class":
                    self._slots_of.setdefault(k[1], []).append(values)
        return self._slots_of.get(id(root), [])

    def _active(self) -> set:
        """ids of the scopes whose code records a fact (a construction, a tracked call, an
        lr write, a loop over param groups, a checkpoint, ...), of the scopes enclosing
        them, and of the functions calling one of those."""
        if self._active_ids is not None:
            return self._active_ids
        active = set()
        todo = [scope for m in self._models for scope in m.acting_scopes()]
        while todo:
            for s in todo.pop().function_chain():
                if id(s) in active:
                    break
                active.add(id(s))
                todo += [caller for caller, _, _ in self.callers.get(id(s), ())]
        self._active_ids = active
        return active

    def certain(self, scope, text) -> list | None:
        """The optimizers and schedulers ``text`` may hold when nothing else is possible
        (no unseen value reaches it), else None."""
        self.solve()
        # a ``partial`` of a scheduler class the slot held until it was called on the
        # optimizer (``self.scheduler = self.scheduler(opt)``) has no ``step()`` or state:
        # what the slot is used as is the scheduler it built
        values = frozenset(
            v for v in self.eval_text(scope, text) if v.__class__ is not SchedulerPartial
        )
        if (
            not values
            or UNKNOWN in values
            or not all(isinstance(v, (Optimizer, Scheduler)) for v in values)
        ):
            return None
        return _ordered(values)

    def paired_flag(self, scope, name, entity) -> bool | None:
        """The literal ``True``/``False`` that ``name`` (read in ``scope``) took from the
        same returned tuple as ``entity`` (``return CosineAnnealingLR(...), True`` unpacked as
        ``scheduler, per_batch = ...``), or None when no such literal pairs them."""
        self.solve()
        found = set()
        for (_, i), seq in self._unpacked.get(self.key(scope, name), {}).items():
            if not isinstance(seq.node, (cst.Tuple, cst.List)):
                continue
            if not any(entity in item for j, item in enumerate(seq.items) if j != i):
                continue
            element = seq.node.elements[i].value
            if not (isinstance(element, cst.Name) and element.value in ("True", "False")):
                return None
            found.add(element.value == "True")
        return found.pop() if len(found) == 1 else None

    def functions(self, node, scope) -> list:
        """The functions (defs, lambdas, partials' targets) a callee expression may be."""
        self.solve()
        out = []
        for v in self.eval(node, scope):
            fn = v.fn if isinstance(v, (_Bound, _Partial)) else v
            if isinstance(fn, FunctionInfo) and fn not in out:
                out.append(fn)
        return out

    def only_callee(self, call, scope):
        """The one function (a def, a method through ``self``, a partial's target) ``call``
        certainly runs; None when it may run another, something unseen, or a class."""
        self.solve()
        targets = self.callees(call, scope)
        if len(targets) != 1 or UNKNOWN in self.eval(call.func, scope):
            return None
        fn = targets[0][0]
        return None if fn.name == "__init__" else fn

    def reaches(self, from_scope, after_order, to_scope, before_order=None, depth=0) -> bool:
        """Code in ``to_scope`` runs (through calls) from ``from_scope``, from a call placed
        after ``after_order`` (and before ``before_order`` when given)."""
        self.solve()
        if depth > 6:
            return False
        for scope, order, _ in self.callers.get(id(to_scope), ()):
            if scope is from_scope:
                if order > after_order and (before_order is None or order < before_order):
                    return True
            elif scope.kind == "function" and self.reaches(
                from_scope, after_order, scope, before_order, depth + 1
            ):
                return True
        return False

    def call_loop(self, call):
        """The innermost loop (a model Loop) a recorded call sits in, else None."""
        loops = getattr(self, "_all_call_loops", None)
        if loops is None:
            loops = self._all_call_loops = {id(c[1]): c[3] for c in self._calls}
        return loops.get(id(call))

    def call_sites(self, scope) -> list:
        """(calling scope, order, Call node) of every call that runs ``scope``'s function."""
        self.solve()
        return list(self.callers.get(id(scope), ()))

    def call_results(self, assigns) -> list:
        """(scope, target text, Call node) for each name or attribute that an assignment of
        ``assigns`` binds to a call's result, each element of an unpacked target included
        (``self.sched_g, self.sched_d = build_schedulers(...)``)."""
        out = []
        for scope, target, value in assigns:
            if not isinstance(value, cst.Call) or scope is None:
                continue
            if isinstance(target, (cst.Tuple, cst.List)):
                elements = [e.value for e in target.elements]
            else:
                elements = [target]
            for element in elements:
                text = self.dotted(element)
                if text is not None:
                    out.append((scope, text, value))
        return out


def _paired_iteration(target, iter_node):
    """[(target element, the sequence it takes its entries from)] for ``for i, o in
    enumerate(opts)`` (``o`` from ``opts``) and ``for o, s in zip(opts, scheds)``; None for
    other loops."""
    if (
        iter_node.__class__ is not _CALL
        or not isinstance(target, (cst.Tuple, cst.List))
        or any(a.keyword is not None or a.star for a in iter_node.args)
    ):
        return None
    name = iter_node.func.value if iter_node.func.__class__ is cst.Name else None
    elements = [e.value for e in target.elements]
    args = [a.value for a in iter_node.args]
    if name == "enumerate" and len(args) == 1 and len(elements) == 2:
        return [(elements[1], args[0])]
    if name == "zip" and args and len(args) == len(elements):
        return list(zip(elements, args))
    return None


class _Bound:
    """A method read through an instance (``self.m``, ``obj.m``): ``self`` is already bound."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __eq__(self, other):
        return isinstance(other, _Bound) and other.fn is self.fn

    def __hash__(self):
        return hash(("bound", id(self.fn)))


class SchedulerPartial:
    """``functools.partial(StepLR, step_size=...)``: calling it on an optimizer builds that
    scheduler with the partial's arguments first (``node``: the partial call, read in
    ``scope``; ``cls``: the scheduler class's short name)."""

    __slots__ = ("node", "scope", "cls")

    def __init__(self, node, scope, cls):
        self.node, self.scope, self.cls = node, scope, cls

    def __eq__(self, other):
        return isinstance(other, SchedulerPartial) and other.node is self.node

    def __hash__(self):
        return hash(("scheduler partial", id(self.node)))


class _Partial:
    __slots__ = ("fn", "skip")

    def __init__(self, fn, skip):
        self.fn, self.skip = fn, skip

    def __eq__(self, other):
        return isinstance(other, _Partial) and other.fn is self.fn and other.skip == self.skip

    def __hash__(self):
        return hash(("partial", id(self.fn), self.skip))


def _returned_objects(values, optimizers, schedulers, depth) -> None:
    """The optimizers and schedulers in a returned value, in the order they are listed
    (``[opt_g, opt_d], [sched_g, sched_d]``, ``{"optimizer": o, "lr_scheduler": {...}}``)."""
    if depth > 4:
        return
    for v in _ordered(v for v in values if isinstance(v, (Optimizer, Scheduler))):
        into = optimizers if isinstance(v, Optimizer) else schedulers
        if v not in into:
            into.append(v)
    for v in values:
        if isinstance(v, Seq):
            for item in v.items:
                _returned_objects(item, optimizers, schedulers, depth + 1)


def _index_text(node) -> str | None:
    """``'disc'`` for a string literal index, ``0`` for an integer one, else None."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return repr(value) if isinstance(value, str) else None
    if isinstance(node, cst.Integer):
        return node.value
    return None


def _indexed(values, index, unknown=True) -> frozenset:
    """What subscripting a container among ``values`` by ``index`` (the text of a string or
    integer literal, or anything else: every entry) may give: the one entry of that key when
    a dict literal names its keys (or of that position in a list or tuple literal), else
    every entry. With ``unknown``, a value that is not a known container makes the result
    unknown too (what an unseen object's subscript holds is unseen)."""
    keyed = bool(index) and index[0] in "'\""
    position = int(index) if index and index.isdigit() else None
    out = set()
    for v in values:
        if not isinstance(v, Seq):
            if unknown:
                out.add(UNKNOWN)
            continue
        if keyed and v.keys is not None and None not in v.keys:
            out |= {x for k, item in zip(v.keys, v.items) if repr(k) == index for x in item}
        elif position is not None and _plain_sequence(v):
            if position < len(v.items):
                out |= v.items[position]
        else:
            out |= v.elements()
    return frozenset(out)


def _plain_sequence(seq) -> bool:
    """A list or tuple literal whose items are its elements in order (no ``*rest``)."""
    return (
        seq.keys is None
        and isinstance(seq.node, (cst.List, cst.Tuple))
        and all(isinstance(e, cst.Element) for e in seq.node.elements)
    )


def _is_parse_args(node) -> bool:
    return (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in ("parse_args",)
    )


def _names(target) -> list:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _names(e.value)]
    return []


def _items_call(node) -> bool:
    return (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "items"
    )


def _visible(owner, scope) -> bool:
    s = scope
    while s is not None:
        if s is owner:
            return True
        s = s.parent
    return False


def _decorated(node, name) -> bool:
    """A def decorated ``@name`` (``@staticmethod``, ``@classmethod``)."""
    for d in getattr(node, "decorators", ()):
        dec = d.decorator
        if isinstance(dec, cst.Name) and dec.value == name:
            return True
        if isinstance(dec, cst.Attribute) and dec.attr.value == name:
            return True
    return False


def _is_property(fn) -> bool:
    """``fn`` is a getter: ``@property`` or ``@functools.cached_property``."""
    return _decorated(fn.node, "property") or _decorated(fn.node, "cached_property")


def _is_classmethod(scope) -> bool:
    """``scope`` is the body of a ``@classmethod`` of a class."""
    return (
        scope.kind == "function"
        and scope.cls is not None
        and bool(scope.params)
        and _decorated(scope.node, "classmethod")
    )


def _enclosing_class(scope):
    s = scope
    while s is not None:
        if s.cls is not None:
            return s.cls
        s = s.parent
    return None


def _ordered(values) -> list:
    return sorted(set(values), key=lambda e: e.order)
