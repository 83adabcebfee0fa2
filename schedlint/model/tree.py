"""In-tree imports: which file of the checked project an import names, and its model.

``from utils import adjust_lr`` in ``train.py`` names ``utils.py`` next to it; ``from .helper
import f`` names ``helper.py`` in the same package; ``import pkg.sched as S`` names
``pkg/sched.py`` under the directory that holds the top package (also from a script in a
folder of entry points next to it, ``tools/train.py``). Only files inside the
project root are read (a venv or site-packages is never entered from a project file: an
installed package is not "the tree"), each one parsed and modelled at most once per process,
and never reported on from here: they only lend their function and class summaries to the
files that import them.

A name a package re-exports (``from .build import build_lr_scheduler`` in
``solver/__init__.py``, ``from reidlib import optim`` in ``reidlib/__init__.py``) is followed
to the module defining it, up to :data:`MAX_REEXPORT_HOPS` re-exports, each such
``__init__.py`` a file the result depends on. An imported module's own imports are followed
one level further (``builder._read_imports_of_imports``), and only those handed a value
that may carry a tracked object: this bounds the work per file; a helper that calls a
fourth module's helper is still checked when that module is.

The other way round, :meth:`Tree.importers` finds the modules that import a class of the file
and call it (``Trainer(model, optimizer, lr_scheduler=lr_scheduler)`` in ``train.py``) or derive
from it (``super().__init__(model, optimizer, scheduler)``), so what they hand the class
reaches its methods when the class's own file is checked. Only the
directories an import of the file can come from are listed (its own, its packages', the
one above the top package and the folders of entry points next to it, ``tools/`` and
``scripts/``), a bounded number of files each; the listings and every file read
are what the result depends on (:func:`listing_hash` keys a directory on its ``.py`` names).
A caller that only forwards its arguments (``build_trainer(cfg, model, opt, sched)`` in
``trainer_factory.py`` returning ``Trainer(...)``) is followed one level further, to the
modules calling that top-level function (:meth:`Tree.forwarding_callers`), and no further.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import OrderedDict

# Models of imported modules kept per process (LRU): their syntax trees stay alive while
# cached, so the cache is small.
CACHE_SIZE = 24
MAX_BYTES = 256 << 10  # a bigger imported module is left unread (its summaries unknown)
_SKIP_DIRS = ("site-packages", "dist-packages")
MAX_IMPORTERS = 8  # modules lending their calls of a class to the class's own file
MAX_LISTED = 64  # .py files read per directory when looking for importers
MAX_SIBLINGS = 8  # packages next to a top package searched for its importers
MAX_CLASS_CHAIN = 4  # modules followed down a chain of subclasses, looking for callers
MAX_REEXPORT_HOPS = 3  # re-exports followed from a package's name to its definition
LISTING_BYTES = 8 << 20  # bytes of listed directories' files kept for the next search
# Folders of scripts run from the project root, next to its top package (``tools/train.py``
# importing ``detectron2.engine``): they import that package by its full name.
ENTRY_POINT_DIRS = frozenset({"tools", "scripts", "script", "bin", "train", "training"})


class Tree:
    """Resolves and loads in-tree modules for the files of one run."""

    # modules followed down a chain of subclasses looking for a class's callers, here and
    # by the flow (``builder._read_importers``)
    class_chain = MAX_CLASS_CHAIN

    def __init__(self, root: str | None = None):
        self.root = os.path.abspath(root) if root else None
        self._models: OrderedDict = OrderedDict()
        self.verdicts: dict = {}  # path -> the gate's verdict, kept for the pipeline
        # paths whose code the gate's stage 2 parsed and rejected, with the bytes hashed in
        # ``hashes``: the file's own check skips them without parsing them again
        self.code_rejected: set = set()
        # path -> content hash of the bytes read (None: unreadable): what a result that used
        # the file depends on, for the results cache's dependency digest
        self.hashes: dict = {}
        self._tops: dict = {}  # directory -> the directory above its top package
        self._found: dict = {}  # (directory, import name) -> the files it may name there
        self._listings: OrderedDict = OrderedDict()  # directory -> its files, for callers
        self._listed_bytes = 0
        self._siblings: dict = {}  # directory -> the packages directly under it

    def inside(self, path: str) -> bool:
        """``path`` (a file or directory) is part of the tree imports may resolve into."""
        return self._inside(os.path.abspath(path))

    def _inside(self, path: str) -> bool:
        # The substring test first: asked for every import of every file the gate reads.
        if any(d in path for d in _SKIP_DIRS) and any(
            part in _SKIP_DIRS for part in path.split(os.sep)
        ):
            return False
        return self.root is None or path.startswith(self.root + os.sep) or path == self.root

    def find(self, importer: str, qualified: str) -> str | None:
        """The file an import's qualified name (``utils``, ``pkg.mod``, ``.helper``,
        ``..a.b``) names, seen from the file ``importer``, if it is in the tree."""
        here = os.path.dirname(os.path.abspath(importer))
        # The files of one directory import the same modules: each name is looked up on
        # the file system once per directory.
        key = (here, qualified)
        candidates = self._found.get(key)
        if candidates is None:
            candidates = self._found[key] = self._candidates(here, qualified)
        for found in candidates:
            if os.path.abspath(found) != os.path.abspath(importer):
                return found
        return None

    def _candidates(self, here: str, qualified: str) -> list:
        """The in-tree files ``qualified`` may name from the directory ``here``, in the
        order :meth:`find` tries them."""
        if not self._inside(here):
            return []  # an installed package's files import installed code, not the tree's
        level = len(qualified) - len(qualified.lstrip("."))
        dotted = qualified[level:]
        if level:
            base = here
            for _ in range(level - 1):
                base = os.path.dirname(base)
            bases = [base]
        else:
            bases = [here]
            top = self._tops.get(here)
            if top is None:
                top = here
                while os.path.isfile(os.path.join(top, "__init__.py")):
                    top = os.path.dirname(top)
                self._tops[here] = top
            if top != here:
                bases.append(top)
            elif dotted:
                # a script in a folder of entry points (``tools/train.py``, run from the
                # project root) imports the project's top package that sits next to it
                entry = self._entry_points_root(here, dotted.partition(".")[0])
                if entry is not None:
                    bases.append(entry)
        parts = dotted.split(".") if dotted else []
        out = []
        for base in bases:
            found = _module_file(base, parts)
            if found is not None and self._inside(found):
                out.append(found)
        return out

    def _entry_points_root(self, here: str, package: str) -> str | None:
        """The directory above ``here`` when ``here`` is a folder of entry points
        (:data:`ENTRY_POINT_DIRS`, no package) and ``package`` a package next to it."""
        above = os.path.dirname(here)
        if (
            os.path.basename(here) in ENTRY_POINT_DIRS
            and above != here
            and self._inside(above)
            and os.path.isfile(os.path.join(above, package, "__init__.py"))
        ):
            return above
        return None

    def read(self, path: str) -> bytes | None:
        """The bytes of the in-tree file ``path`` (None when unreadable); their content hash
        is kept in :attr:`hashes`."""
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            self.hashes[path] = None
            return None
        self.hashes[path] = content_hash(data)
        return data

    def model(self, path: str):
        """The FileModel of ``path`` (built once; None when unreadable or unparsable)."""
        if path in self._models:
            self._models.move_to_end(path)
            return self._models[path]
        model = _build(path, self.read(path))
        self._models[path] = model
        if len(self._models) > CACHE_SIZE:
            self._models.popitem(last=False)
        return model

    def externals(self, importer: str, imports: dict, dotted=()) -> tuple:
        """(qualified import name -> FunctionInfo / ClassInfo / ModuleRef, for the names
        ``imports`` (local name -> qualified name) binds to in-tree definitions, and for the
        qualified attribute chains ``dotted`` of an imported package
        (``reidlib.optim.build_lr_scheduler`` of ``import reidlib``); the models they come
        from; every file read for them, a model or not: what the importer's result depends
        on)."""
        out, models, read = {}, [], []
        for qualified in set(imports.values()) | set(dotted):
            if not qualified or qualified.partition(".")[0] in ("torch", "transformers"):
                continue
            found = self.definition(importer, qualified, read)
            if found is not None:
                out[qualified] = found[0]
                if all(m is not found[1] for m in models):
                    models.append(found[1])
        return out, models, read

    def definition(self, importer: str, qualified: str, read: list, hops=MAX_REEXPORT_HOPS):
        """(FunctionInfo / ClassInfo / ModuleRef, its model) that ``qualified`` names seen
        from the file ``importer``, else None: the module itself, a top-level definition of
        it, or what the module imports under that name (a package's ``__init__.py``
        re-exporting ``from .build import build_lr_scheduler``, or naming a subpackage,
        ``from reidlib import optim``), followed ``hops`` times. Every file read is added to
        ``read``."""
        # Imported here: a warm run reads the tree's hashes but never builds a model.
        from schedlint.model.facts import ModuleRef, top_level

        level = len(qualified) - len(qualified.lstrip("."))
        head, _, name = qualified[level:].rpartition(".")
        head = "." * level + head
        path = self.find(importer, qualified)
        if path is not None:  # the module itself: ``import utils``
            bound = self._bound_by_package(importer, head, name, read, hops)
            if bound is not None:
                return bound
            read.append(path)
            model = self.model(path)
            return (ModuleRef(model), model) if model is not None else None
        path = self.find(importer, head) if head else None
        if path is None:
            return None
        read.append(path)
        model = self.model(path)
        if model is None:
            return None
        found = top_level(model, name)
        if found is not None:
            return found, model
        if hops <= 0:
            return None
        target = model.imports.get(name)
        if target is not None:
            if target.partition(".")[0] in ("torch", "transformers"):
                return None
            return self.definition(path, target, read, hops - 1)
        word = re.compile(rb"\b" + re.escape(name.encode()) + rb"\b")
        for star in model.star_imports:  # ``from .lr_scheduler import *``
            # a module never naming ``name`` cannot define it: its bytes say so unparsed
            module = self.find(path, star)
            data = self.read(module) if module is not None else None
            if data is None:
                continue
            read.append(module)
            if not word.search(data):
                continue
            found = self.definition(path, f"{star}.{name}", read, hops - 1)
            if found is not None:
                return found
        return None

    def _bound_by_package(self, importer: str, head: str, name: str, read: list, hops: int):
        """What the package ``head``'s ``__init__.py`` binds ``name`` to, when it binds it:
        ``from solver import make_optimizer`` with ``from .make_optimizer import
        make_optimizer`` there gets the function, not the submodule of the same name."""
        package = self.find(importer, head) if head and hops > 0 else None
        if package is None or os.path.basename(package) != "__init__.py":
            return None
        read.append(package)
        init = self.model(package)
        target = init.imports.get(name) if init is not None else None
        if target is None or target.partition(".")[0] in ("torch", "transformers"):
            return None
        return self.definition(package, target, read, hops - 1)

    def importers(self, path: str, names, also=()) -> tuple:
        """([(model, {qualified import name: the name in ``path``, or None for the module
        itself})] for the in-tree modules that import ``path`` and call one of ``names`` (its
        top-level classes), binding too the names ``also`` they import from it (the decay
        functions a caller hands the class); every file and directory read for them: what a
        result that uses them depends on)."""
        if not names or not self._inside(os.path.dirname(os.path.abspath(path))):
            return [], []
        out, read = [], []
        for candidate in self.callers(path, names, read):
            model = self.model(candidate)
            bound = (
                self._bound_names(candidate, model, path, set(names) | set(also), read)
                if model
                else None
            )
            if bound:
                out.append((model, bound))
                if len(out) >= MAX_IMPORTERS:
                    break
        return out, read

    def callers(self, path: str, names, read: list) -> list:
        """The files next to ``path`` (where an import of it can come from) whose bytes call
        one of ``names`` (``Trainer(``) or derive a class from one. Every directory listed
        and file read is added to ``read``."""
        if not names or not self._inside(os.path.dirname(os.path.abspath(path))):
            return []
        called, derived = _calls_of(names), _subclasses_of(names)
        listed = _registered_in(names)
        # A substring test runs at memory speed; the regex (slow on an alternation) only
        # confirms a file that names one.
        words = [n.encode() for n in names]
        out = []
        own = self._importing_dirs(path)
        # In the packages next to the top package only a subclass is looked for (a task
        # package deriving its trainer from the engine's base): the scripts and tests
        # there that merely call the class are left to the class's own directories.
        siblings = [(d, True) for d in self._sibling_dirs(path, own)]
        scripts = [(d, False) for d in self._entry_point_dirs(own)]
        for directory, sibling in [(d, False) for d in own] + scripts + siblings:
            read.append(directory)
            for candidate, data in self._listing(directory):
                if os.path.abspath(candidate) == os.path.abspath(path):
                    continue
                read.append(candidate)
                if (
                    data is not None
                    and any(w in data for w in words)
                    and (
                        not sibling
                        and (called.search(data) or listed.search(data))
                        or derived.search(data)
                    )
                ):
                    out.append(candidate)
        return out

    def named_nearby(self, path: str, words, read: list) -> set:
        """The ``words`` that some other file next to ``path`` (where an import of it can
        come from, as for :meth:`callers`) names anywhere: ``pl_module.scheduler_g.step()``
        in a callback module, ``self.scheduler_g`` in a subclass. A listing cut short at
        :data:`MAX_LISTED` files, or a file too large to list, counts as naming them all.
        Every directory listed and file read is added to ``read``."""
        words = set(words)
        if not words or not self._inside(os.path.dirname(os.path.abspath(path))):
            return words
        found = set()
        patterns = {w: re.compile(rb"\b" + re.escape(w.encode()) + rb"\b") for w in words}
        own = self._importing_dirs(path)
        for directory in own + self._sibling_dirs(path, own):
            read.append(directory)
            listing = self._listing(directory)
            if len(listing) >= MAX_LISTED:
                return words
            for candidate, data in listing:
                if os.path.abspath(candidate) == os.path.abspath(path):
                    continue
                read.append(candidate)
                if data is None:
                    return words
                found |= {w for w, p in patterns.items() if w not in found and p.search(data)}
        return found

    def defining_methods(self, path: str, names, read: list) -> dict:
        """{name: [paths]} of the other files next to ``path`` (as for :meth:`named_nearby`)
        that define a method ``def name(self, ...)`` of one of ``names``: where a call on an
        object the file is only handed (``self.model.unfreeze_encoder(self.optimizer)``)
        may land. Every directory listed and file read is added to ``read``."""
        names = set(names)
        if not names or not self._inside(os.path.dirname(os.path.abspath(path))):
            return {}
        patterns = {
            n: re.compile(rb"\bdef " + re.escape(n.encode()) + rb"\(\s*self\b") for n in names
        }
        found = {}
        own = self._importing_dirs(path)
        for directory in own + self._sibling_dirs(path, own):
            read.append(directory)
            for candidate, data in self._listing(directory):
                if data is None or os.path.abspath(candidate) == os.path.abspath(path):
                    continue
                read.append(candidate)
                for n, pattern in patterns.items():
                    if pattern.search(data):
                        found.setdefault(n, []).append(candidate)
        return found

    def _listing(self, directory: str) -> list:
        """[(path, bytes or None when unreadable or too large)] of the first ``.py`` files of
        ``directory``, read once per batch while they fit :data:`LISTING_BYTES`: the
        classes of one directory look for callers in the same directories, and a factory's
        callers (:meth:`forwarding_callers`) are mostly next to it."""
        found = self._listings.get(directory)
        if found is not None:
            self._listings.move_to_end(directory)
            return found
        self.hashes[directory] = listing_hash(directory)
        found = []
        for candidate in _py_files(directory)[:MAX_LISTED]:
            data = self.read(candidate)
            found.append((candidate, data if data is not None and len(data) <= MAX_BYTES else None))
        self._listings[directory] = found
        self._listed_bytes += _listing_size(found)
        while self._listed_bytes > LISTING_BYTES and len(self._listings) > 1:
            _, dropped = self._listings.popitem(last=False)
            self._listed_bytes -= _listing_size(dropped)
        return found

    def forwarding_callers(self, path: str, names, read: list):
        """The callers of ``names`` (:meth:`callers`), then the in-tree files calling a
        top-level function of one of them whose body calls ``names``
        (:func:`forwarding_functions`): ``train.py`` calling ``build_trainer`` of
        ``trainer_factory.py``, which returns ``Trainer(...)``. Lazily, so a gate that
        is answered by a direct caller reads no further; each file once."""
        direct = self.callers(path, names, read)
        yield from direct
        seen = {os.path.abspath(p) for p in direct} | {os.path.abspath(path)}
        # A chain of subclasses is followed to its end (MAX_CLASS_CHAIN modules), a
        # function forwarding the class one level, as the flow does.
        frontier = [(caller, names) for caller in direct[:MAX_IMPORTERS]]
        for depth in range(self.class_chain):
            # Callers in one directory share the directories their importers are listed
            # from: one search there for all their functions.
            wanted: dict = {}  # importing directories -> (a caller, names, class names)
            for caller, called in frontier:
                data = self.read(caller)
                if data is None:
                    continue
                classes = deriving_classes(data, called)
                forwarded = classes if depth else forwarding_functions(data, called)
                if forwarded:
                    dirs = tuple(self._importing_dirs(caller))
                    entry = wanted.setdefault(dirs, (caller, set(), set()))
                    entry[1].update(forwarded)
                    entry[2].update(classes)
            frontier = []
            for caller, forwarded, classes in wanted.values():
                for candidate in self.callers(caller, forwarded, read):
                    if os.path.abspath(candidate) not in seen:
                        seen.add(os.path.abspath(candidate))
                        if classes:
                            frontier.append((candidate, classes))
                        yield candidate

    def _importing_dirs(self, path: str) -> list:
        """The directories whose modules can import ``path`` by name: its own, each package
        above it up to the top package, and the directory that holds the top package (or, for
        a directory that is no package, the one above it; see also :meth:`_sibling_dirs`)."""
        here = os.path.dirname(os.path.abspath(path))
        out = [here]
        if not os.path.isfile(os.path.join(here, "__init__.py")):
            # a directory without ``__init__.py`` is still importable from the one above it
            # (a namespace package: ``from brewer.distiller import GeneralDistiller``)
            above = os.path.dirname(here)
            if above != here and self._inside(above):
                out.append(above)
            return out
        while os.path.isfile(os.path.join(here, "__init__.py")) and len(out) < 4:
            here = os.path.dirname(here)
            if not self._inside(here):
                break
            out.append(here)
        return out

    def _sibling_dirs(self, path: str, own: list) -> list:
        """The packages next to the top package of ``path`` (``own``: its importing
        directories, the last one holding that package), which import it by its full name:
        ``tasks/classification.py`` deriving ``ClassifierTrainer`` from ``trainers/base.py``'s
        ``BaseTrainer``. None outside a package."""
        top = own[-1]
        if len(own) < 2 or os.path.isfile(os.path.join(top, "__init__.py")):
            return []
        return [d for d in self._sibling_packages(top) if d not in own]

    def _entry_point_dirs(self, own: list) -> list:
        """The folders of entry points (:data:`ENTRY_POINT_DIRS`) next to the top package
        of a file (``own``: its importing directories): their scripts call its classes."""
        top = own[-1]
        if len(own) < 2 or os.path.isfile(os.path.join(top, "__init__.py")):
            return []
        out = []
        for name in sorted(ENTRY_POINT_DIRS):
            folder = os.path.join(top, name)
            if os.path.isdir(folder) and not os.path.isfile(os.path.join(folder, "__init__.py")):
                out.append(folder)
        return out

    def _sibling_packages(self, directory: str) -> list:
        """The first :data:`MAX_SIBLINGS` packages directly under ``directory``, by name."""
        found = self._siblings.get(directory)
        if found is None:
            try:
                names = sorted(os.listdir(directory))
            except OSError:
                names = []
            found = []
            for name in names:
                sub = os.path.join(directory, name)
                if (
                    name.isidentifier()
                    and self._inside(sub)
                    and os.path.isfile(os.path.join(sub, "__init__.py"))
                ):
                    found.append(sub)
                    if len(found) >= MAX_SIBLINGS:
                        break
            self._siblings[directory] = found
        return found

    def _bound_names(self, importer: str, model, path: str, names, read: list) -> dict:
        """{qualified import name of ``importer``'s: the name of ``names`` it binds in
        ``path``, or None when it names the module itself}: ``from trainer.trainer import
        Trainer``, ``import trainer``, and a package re-exporting the module
        (``from trainer import Trainer`` with ``from .trainer import *`` in its
        ``__init__.py``)."""
        stem = os.path.splitext(os.path.basename(path))[0]
        init = os.path.join(os.path.dirname(os.path.abspath(path)), "__init__.py")
        reexport = re.compile(rb"from\s+\." + re.escape(os.fsencode(stem)) + rb"\s+import")
        bound = {}
        for qualified in set(model.imports.values()):
            found = self.find(importer, qualified)
            if found is not None and os.path.abspath(found) == os.path.abspath(path):
                bound[qualified] = None
                continue
            head, _, name = qualified.rpartition(".")
            if name not in names or not head.strip("."):
                continue
            found = self.find(importer, head)
            if found is None:
                continue
            found = os.path.abspath(found)
            if found == os.path.abspath(path):
                bound[qualified] = name
            elif found == init:
                if init not in read:
                    read.append(init)
                data = self.read(init)
                if data is not None and reexport.search(data):
                    bound[qualified] = name
        return bound


# A top-level def, and the next top-level statement that ends it (a closing bracket of a
# wrapped signature at column 0 does not).
_TOP_DEF = re.compile(rb"^(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)", re.M)
_TOP_STATEMENT = re.compile(rb"^[A-Za-z_@]", re.M)
# A top-level class and what its bases are written as.
_TOP_CLASS = re.compile(rb"^class[ \t]+([A-Za-z_]\w*)[ \t]*\(([^)]*)\)", re.M)


def forwarding_functions(data: bytes, names) -> list:
    """Names of the top-level functions of a module (its bytes) whose body calls one of
    ``names``: ``build_trainer`` returning ``Trainer(model, optimizer, lr_scheduler)``; and
    of its top-level classes deriving from one (``class Trainer(BaseTrainer):``, whose
    ``super().__init__(model, optimizer, lr_scheduler)`` hands the base what ``train.py``
    hands ``Trainer(...)``)."""
    if not names:
        return []
    called = _calls_of(names)
    out = deriving_classes(data, names)
    for m in _TOP_DEF.finditer(data):
        line_end = data.find(b"\n", m.end())
        end = _TOP_STATEMENT.search(data, line_end + 1) if line_end >= 0 else None
        body = data[m.end() : end.start() if end is not None else len(data)]
        if called.search(body):
            out.append(m.group(1).decode("ascii"))
    return out


def deriving_classes(data: bytes, names) -> list:
    """Names of the top-level classes of a module (its bytes) deriving from one of
    ``names`` (``class Trainer(BaseTrainer):``)."""
    if not names:
        return []
    base = re.compile(rb"\b(?:" + b"|".join(re.escape(n.encode()) for n in sorted(names)) + rb")\b")
    return [
        m.group(1).decode("ascii")
        for m in _TOP_CLASS.finditer(data)
        if base.search(m.group(2)) and m.group(1).decode("ascii") not in names
    ]


def _calls_of(names):
    """A byte pattern for a call of one of ``names`` (``Trainer(``), or of a factory method
    of it (``Trainer.from_config(``, a classmethod returning ``cls(...)``)."""
    alternatives = b"|".join(re.escape(n.encode()) for n in sorted(names))
    return re.compile(rb"\b(?:" + alternatives + rb")\s*(?:\.\s*[A-Za-z_]\w*\s*)?\(")


def _registered_in(names):
    """A byte pattern for one of ``names`` as a value of a dict of classes (``"sem_runner":
    SemRunner,`` or ``sem_runner=SemRunner,``): a registry whose factory picks the class by
    key for its callers (``get_runner(name)(model, optimizer, scheduler)``)."""
    alternatives = b"|".join(re.escape(n.encode()) for n in sorted(names))
    return re.compile(rb"[:=][ \t]*(?:\w+\.)*(?:" + alternatives + rb")[ \t]*[,})\n]")


def _subclasses_of(names):
    """A byte pattern for a class deriving from one of ``names`` (``class
    ClassifierTrainer(BaseTrainer):``): its ``super().__init__(model, optimizer, scheduler)``
    hands the base what a call would."""
    alternatives = b"|".join(re.escape(n.encode()) for n in sorted(names))
    return re.compile(rb"^[ \t]*class[ \t]+\w+[ \t]*\([^)]*\b(?:" + alternatives + rb")\b", re.M)


def _py_files(directory: str) -> list:
    try:
        return sorted(
            e.path for e in os.scandir(directory) if e.name.endswith(".py") and e.is_file()
        )
    except OSError:
        return []


def _listing_size(files) -> int:
    return sum(len(data) for _, data in files if data is not None)


def listing_hash(directory: str) -> str | None:
    """The hash a directory's ``.py`` file names and package names are keyed on (None when
    unreadable): a module or package added next to a class may hold a new importer of it."""
    try:
        names = sorted(
            e.name + ("/" if e.is_dir() else "")
            for e in os.scandir(directory)
            if e.name.endswith(".py")
            or e.name.isidentifier()
            and e.is_dir()
            and os.path.isfile(os.path.join(e.path, "__init__.py"))
        )
    except OSError:
        return None
    # Names as the file system holds them: one that is not UTF-8 has no text encoding.
    return content_hash(b"\0".join(os.fsencode(n) for n in names))


def _module_file(base: str, parts: list) -> str | None:
    if not parts:
        init = os.path.join(base, "__init__.py")
        return init if os.path.isfile(init) else None
    path = os.path.join(base, *parts)
    if os.path.isfile(path + ".py"):
        return path + ".py"
    init = os.path.join(path, "__init__.py")
    return init if os.path.isfile(init) else None


def content_hash(data: bytes) -> str:
    """The hash the results cache keys a file's bytes on."""
    return hashlib.sha256(data).hexdigest()


def _build(path: str, data: bytes | None):
    from schedlint.model.builder import build_model
    from schedlint.model.cstwalk import parse

    if data is None or len(data) > MAX_BYTES:
        return None
    try:
        source = data.decode("utf-8")
        if source.startswith("\ufeff"):
            source = source[1:]
        module = parse(source)
        return build_model(path, source, module)
    except (OSError, UnicodeDecodeError, RecursionError, MemoryError, Exception):
        # an imported module that cannot be read lends no summaries; its own check reports it
        return None
