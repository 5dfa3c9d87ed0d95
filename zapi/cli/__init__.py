"""The ``zapi`` command line: a click group (:mod:`zapi.cli.app`) and one module per feature."""

from zapi.cli.app import cli, main, run

__all__ = ["cli", "main", "run"]
