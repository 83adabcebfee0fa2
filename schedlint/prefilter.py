"""The byte-level gate: skip, before parsing, files that cannot contain a finding.

Every rule is about an optimizer, a scheduler or a param group, so a file that mentions none of
them (``optim``, ``param_groups``, ``schedul``, ``lr`` as a word or key part) cannot produce a
finding. ``tests/test_prefilter.py`` proves this over every fixture and the corpora: the gate
never rejects a file on which the full checker reports something.
"""

from __future__ import annotations

import re

_LR = re.compile(rb"\blr\b|lr_|_lr|LR")


def admits(data: bytes) -> bool:
    # Substring tests run at memchr speed; the regex only runs on files that mention "lr".
    if b"optim" in data or b"param_groups" in data or b"chedul" in data:
        return True
    return (b"lr" in data or b"LR" in data) and _LR.search(data) is not None
