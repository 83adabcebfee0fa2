from schedlint.cli import entry

entry()
