"""``python -m zapi``: the command line."""

from zapi.cli import run

run()
