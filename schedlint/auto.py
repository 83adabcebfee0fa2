"""``import schedlint.auto``: guard every optimizer and scheduler of this process when the
environment says ``SCHEDLINT_GUARD=1`` (``SCHEDLINT_ON_VIOLATION=warn|log`` to not raise).

Nothing happens otherwise, and torch is not imported, so the import can stay in a training
script permanently and be switched on for debug runs only. A report is printed at exit.
"""

from schedlint.guard import install

session = install()
