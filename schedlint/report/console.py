"""The process's own output streams, as the console script sets them up."""

from __future__ import annotations

import sys


def tolerate_unencodable_output() -> None:
    """Write what stdout's or stderr's encoding cannot hold as backslash escapes instead of
    raising. Under a latin-1 (or ASCII) locale a finding in ``名前.py``, or a message quoting
    such code, would otherwise end the run with UnicodeEncodeError after the check is done.
    """
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) in ("strict", "surrogateescape"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (AttributeError, ValueError, OSError):  # not a TextIOWrapper: leave it
                pass
