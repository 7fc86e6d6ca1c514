"""The init wizard's terminal: its lines, rules and tables drawn with rich, answers typed."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.prompt import Confirm, Prompt
from rich.text import Text

from responsewatch.app.commands import CheckReport
from responsewatch.app.init_app import Part
from responsewatch.cli import tables
from responsewatch.cli.lines import print_check
from responsewatch.cli.terminal import cell
from responsewatch.core.safe_text import plain

__all__ = ["RichAnswers", "RichScreen"]


def _inert(text: str) -> str:
    # Server-given text (discovery, OAuth prompts) may span lines; each line is made plain.
    return "\n".join(plain(line) for line in text.split("\n"))


class RichScreen:
    def __init__(self, console: Console) -> None:
        self.console = console

    def line(self, *parts: Part) -> None:
        text = Text.assemble(
            *(_inert(p) if isinstance(p, str) else (_inert(p[0]), p[1]) for p in parts)
        )
        self.console.print(text, highlight=False, soft_wrap=True)

    def rule(self, title: str) -> None:
        self.console.rule(Text(plain(title), style="bold"), align="left")

    def table(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        # Names (folders, correspondents) may be cut with an ellipsis; numbers never are.
        columns = tuple(
            tables.Column(h, free=not all(r[i].isdigit() for r in rows), right=False)
            for i, h in enumerate(headers)
        )
        grid = tables.Grid(title, columns, tuple(tuple(cell(v) for v in r) for r in rows))
        tables.render(grid, self.console)

    def check(self, report: CheckReport) -> None:
        print_check(report, self.console)


class RichAnswers:
    def __init__(self, console: Console) -> None:
        self._console = console

    def text(self, question: str, default: str | None = None) -> str:
        if default is None:
            return Prompt.ask(question, console=self._console).strip()
        return Prompt.ask(question, console=self._console, default=default).strip()

    def secret(self, question: str) -> str:
        # getpass: nothing echoed, nothing in the shell history
        return Prompt.ask(question, console=self._console, password=True)

    def confirm(self, question: str, default: bool = True) -> bool:
        return Confirm.ask(question, console=self._console, default=default)
