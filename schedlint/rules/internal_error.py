from schedlint.rules.base import rule


@rule("SL003", "internal-error", "error", kind="builtin")
def internal_error():
    """schedlint itself failed on this file; the message names the rule and the exception.

    ## What it does
    Reports a bug in schedlint: a rule raised an exception, or the process checking the file
    died. The other rules' findings for the file, and every other file, are still reported,
    and the run exits with status 2.

    ## Why is this bad?
    The file was not fully checked, so a real problem may be hiding in it.

    ## Example
    ```text
    train.py:1:1: SL003 internal error in rule SL101 (scalar-lr-overwrite): KeyError: 'lr'
    ```

    ## Use instead
    Report the message and the file (or a reduced copy of it) to the schedlint developers.
    Meanwhile `# noqa` cannot silence it; `--ignore SL003` can.
    """
