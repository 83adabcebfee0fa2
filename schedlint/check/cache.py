"""Per-file results cache under ``.schedlint_cache/``, like ruff's.

An entry is valid for a file whose content hash matches, under the same schedlint version, the
same schedlint code (every file of the package, by size and modification time, so an edited
rule invalidates it) and the same effective rule selection (all part of the cache file's
name). A file whose size and modification time are unchanged since it was read is trusted
without reading it, which is what makes a warm run cheap: it reads, hashes and parses
nothing, and never imports libcst. Writes go to a temporary file renamed into place, so
concurrent runs never see a torn file; the last writer wins. A corrupt or unreadable cache
is ignored, never fatal. (An exact repeat of a whole run is cheaper still: schedlint.check.replay.)
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from schedlint import __version__
from schedlint.report.findings import Finding
from schedlint.jsonfile import write_atomically

CACHE_DIR_NAME = ".schedlint_cache"


class ResultCache:
    def __init__(self, root: Path, codes, *, extra: str = ""):
        from schedlint.check.replay import _code_stamp

        key = hashlib.sha256((",".join(sorted(codes)) + "|" + extra + "|" + _code_stamp())
                             .encode()).hexdigest()[:16]
        self.dir = Path(root) / CACHE_DIR_NAME / __version__
        self.file = self.dir / f"results-{key}.json"
        self.entries = self._load()
        self.dirty = {}

    def _load(self) -> dict:
        try:
            with open(self.file, encoding="utf-8") as fh:
                data = json.load(fh)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    @staticmethod
    def _stat(path):
        st = os.stat(path)
        return st.st_size, st.st_mtime_ns

    def get(self, path: str):
        from schedlint.check.engine import FileResult
        from schedlint.model.facts import FileFacts

        entry = self.entries.get(os.path.abspath(path))
        if not isinstance(entry, dict):
            return None
        try:
            size, mtime = self._stat(path)
            if (size, mtime) != (entry.get("size"), entry.get("mtime")):
                with open(path, "rb") as fh:
                    if hashlib.sha256(fh.read()).hexdigest() != entry.get("sha"):
                        return None
                entry["size"], entry["mtime"] = size, mtime
                self.dirty[os.path.abspath(path)] = entry
            findings = [Finding(**{**f, "path": path}) for f in entry["findings"]]
            facts = entry.get("facts")
            return FileResult(path=path, findings=findings, parsed=entry.get("parsed", False),
                              facts=FileFacts(path=path, group_keys=[tuple(k) for k in
                                                                     facts["group_keys"]],
                                              read_keys=set(facts["read_keys"]))
                              if facts else None)
        except (OSError, KeyError, TypeError, ValueError):
            return None

    def put(self, path: str, result) -> None:
        if any(f.code in ("SL002", "SL003") for f in result.findings):
            return  # transient failures (permissions, crashes) must be retried next run
        try:
            # The state the file was read in: one edited since gets re-hashed next time.
            size, mtime = getattr(result, "stat", None) or self._stat(path)
        except OSError:
            return
        sha = result.sha
        facts = result.facts
        self.dirty[os.path.abspath(path)] = {
            "size": size, "mtime": mtime, "sha": sha, "parsed": result.parsed,
            "findings": [{k: v for k, v in f.to_dict().items() if k != "path"}
                         for f in result.findings],
            "facts": {"group_keys": facts.group_keys, "read_keys": sorted(facts.read_keys)}
            if facts else None,
        }

    def save(self) -> None:
        if not self.dirty:
            return
        merged = {**self._load(), **self.dirty}
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            gitignore = self.dir.parent / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("# Automatically created by schedlint.\n*\n")
        except OSError:
            return  # a read-only tree still gets checked, just not cached
        write_atomically(str(self.file), merged)
