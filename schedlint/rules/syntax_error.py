from schedlint.rules.base import rule


@rule("SL001", "syntax-error", "error", kind="builtin")
def syntax_error():
    """The file does not parse, so nothing in it was checked.

    ## What it does
    Reports a file that Python's compiler (or the parser schedlint uses) rejects, at the line
    and column the compiler reports. Code written for a newer Python than the one running
    schedlint (3.12's `def f[T]()`, `type` aliases, nested f-string quotes) is not an error:
    it is checked like any other file.

    ## Why is this bad?
    A file that does not compile will not train anything, and schedlint cannot check any of
    its scheduler code until it parses.

    ## Example
    ```python
    scheduler = StepLR(optimizer, step_size=30
    ```

    ## Use instead
    ```python
    scheduler = StepLR(optimizer, step_size=30)
    ```
    """
