"""Writing a JSON file so that readers never see half of it (cache, run replays, rule index)."""

from __future__ import annotations

import json
import os


def write_atomically(path: str, data, prefix: str = ".tmp-") -> bool:
    """Dump ``data`` to a temporary file beside ``path`` and rename it over ``path``:
    concurrent runs each replace the whole file, and a failed write leaves no debris.
    Returns False (and writes nothing) when the folder cannot be written or ``data`` is not
    JSON-serialisable: every caller treats its file as an optional speed-up."""
    import tempfile

    folder = os.path.dirname(path) or "."
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
        return True
    except (OSError, TypeError, ValueError):
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return False
