"""Writing a file so that readers never see half of it (the results cache and its .gitignore)."""

from __future__ import annotations

import json
import os


def write_atomically(path: str, data, prefix: str = ".tmp-") -> bool:
    """Dump ``data`` as JSON to a temporary file beside ``path`` and rename it over ``path``:
    concurrent runs each replace the whole file, and a failed write leaves no debris.
    Returns False (and writes nothing) when the folder cannot be written or ``data`` is not
    JSON-serialisable: every caller treats its file as an optional speed-up."""
    return _write(path, lambda fh: json.dump(data, fh), prefix, ".json")


def write_text_atomically(path: str, text: str, prefix: str = ".tmp-") -> bool:
    """:func:`write_atomically` for a text file."""
    return _write(path, lambda fh: fh.write(text), prefix, ".txt")


def _write(path: str, dump, prefix: str, suffix: str) -> bool:
    import tempfile

    folder = os.path.dirname(path) or "."
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            dump(fh)
        os.replace(tmp, path)
        return True
    except (OSError, TypeError, ValueError):
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return False
