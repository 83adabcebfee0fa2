from schedlint.rules.base import rule


@rule("SL002", "unreadable-file", "error", kind="builtin")
def unreadable_file():
    """The file could not be read or decoded, so nothing in it was checked.

    ## What it does
    Reports a file that cannot be opened (permissions, a vanished file) or whose bytes are not
    valid in its declared encoding (UTF-8 unless a PEP 263 coding line says otherwise).

    ## Why is this bad?
    Python would refuse to import it too; and schedlint cannot vouch for a file it never read.

    ## Example
    ```python
    # -*- coding: utf-8 -*-
    lr = 0.1  # followed by a stray byte 0xff
    ```

    ## Use instead
    Save the file in the encoding it declares, and make it readable by the user running the
    check.
    """
