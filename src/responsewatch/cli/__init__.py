"""The command line: every table, JSON document, CSV file and progress bar is drawn here.

``app/`` returns values (dataclasses, plain data); the modules of this package render them:
``commands`` (the typer app, one library call per command), ``output`` (JSON and CSV writing),
``tables`` (rich tables sized to the terminal), ``terminal`` (mail text made inert),
``progress`` (rich progress bars fed by app callbacks), ``screen`` (the init wizard's I/O).
"""

from responsewatch.cli.commands import app, cli_errors, main

__all__ = ["app", "cli_errors", "main"]
