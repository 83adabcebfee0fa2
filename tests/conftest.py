import pytest


@pytest.fixture
def run_cli():
    """Invoke the CLI in-process through click's runner."""
    from click.testing import CliRunner

    from schedlint.cli import main

    def run(*args, input=None, env=None):
        runner = CliRunner()
        return runner.invoke(main, list(args), input=input, env=env, catch_exceptions=False)

    return run
