"""Command line: argument parsing plus one library call per command. No logic here."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from responsewatch import __version__
from responsewatch.app import commands
from responsewatch.app.json_out import iterencode
from responsewatch.app.report import (
    analysis_csv,
    analysis_json,
    print_analysis,
    print_insights,
    threads_json,
)
from responsewatch.app.terminal import cell, lit
from responsewatch.errors import RwError
from responsewatch.logs import configure_logging

__all__ = ["app", "cli_errors", "main"]

app = typer.Typer(
    name="responsewatch",
    help="Reply latency to your clients, against the 24-hour trust threshold.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# emoji=False: ":smile:" in a subject is text, not an emoji code.
out = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160, emoji=False)
err = Console(stderr=True, soft_wrap=True, emoji=False)


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class ThreadsFormat(StrEnum):
    json = "json"
    table = "table"


@contextmanager
def cli_errors() -> Iterator[None]:
    """The one place where errors become messages and exit codes (see errors.py)."""
    try:
        yield
    except RwError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            err.print(f"[bold red]error:[/] {lit(line)}", highlight=False, markup=True)
        raise typer.Exit(exc.exit_code) from None


def _emit_json(doc: Any) -> None:
    # Chunks are streamed: a large report is never held twice as one string. JSON escapes
    # C0 controls itself; C1 controls and bidi overrides from mail are escaped too (the
    # value a parser reads is unchanged), so a document shown on a terminal is inert.
    write = sys.stdout.write
    for chunk in iterencode(doc):  # JSONEncoder(ensure_ascii=False, indent=2)'s text
        write(_JSON_UNSAFE.sub(_json_escape, chunk) if _JSON_UNSAFE.search(chunk) else chunk)
    write("\n")


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="TOML configuration file.")]
OptConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML configuration file.")
]
NowOpt = Annotated[
    str | None,
    typer.Option("--now", help="Evaluate as of this ISO 8601 instant (no offset: me.timezone)."),
]
MeOpt = Annotated[list[str], typer.Option("--me", help="One of my addresses (repeatable).")]


def _show(analysis: Any, fmt: Format, timezone: str) -> None:
    if fmt is Format.json:
        _emit_json(analysis_json(analysis))
    elif fmt is Format.csv:
        sys.stdout.write(analysis_csv(analysis))
    else:
        print_analysis(analysis, out, timezone=timezone)


@app.command()
def analyze(
    paths: Annotated[list[Path], typer.Argument(help="mbox (.gz), Maildir or directory tree.")],
    me: MeOpt = [],  # noqa: B006 - typer reads the default, never mutates it
    client: Annotated[
        list[str], typer.Option("--client", help="NAME=DOMAIN_OR_ADDRESS (repeatable).")
    ] = [],  # noqa: B006
    config: OptConfigOpt = None,
    now: NowOpt = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Analyse mailbox files: awaiting replies, reply latency, per-client statistics."""
    with cli_errors():
        result = commands.analyze_paths(
            paths,
            me=me,
            clients=client,
            config=config,
            now=now,
            progress=fmt is Format.table and err.is_terminal,
            console=err,
        )
        _show(result.analysis, fmt, result.timezone)
        result.warn(err)


@app.command()
def threads(
    paths: Annotated[list[Path], typer.Argument(help="mbox (.gz), Maildir or directory tree.")],
    me: MeOpt = [],  # noqa: B006
    config: OptConfigOpt = None,
    fmt: Annotated[ThreadsFormat, typer.Option("--format", "-f")] = ThreadsFormat.json,
) -> None:
    """Group messages into conversations and print them."""
    with cli_errors():
        result = commands.thread_paths(paths, me=me, config=config)
        doc = threads_json(result.conversations, result.messages, result.skipped)
        if fmt is ThreadsFormat.json:
            _emit_json(doc)
        else:
            commands.print_threads(result, out)
        result.warn(err)


@app.command()
def report(
    config: ConfigOpt,
    now: NowOpt = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Report from the store filled by `sync`/`run`."""
    with cli_errors():
        analysis, timezone, insights = commands.report(config, now=now)
        if fmt is Format.json:
            # The analyze document plus one key: insights (documented in the README).
            _emit_json({**analysis_json(analysis), "insights": insights})
        else:
            _show(analysis, fmt, timezone)
            if fmt is Format.table:
                print_insights(insights, out)


@app.command()
def demo(
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    keep: Annotated[
        Path | None, typer.Option("--keep", help="Keep the demo store in this directory.")
    ] = None,
) -> None:
    """Run the whole pipeline on a bundled sample mailbox (a throwaway SQLite store)."""
    with cli_errors():
        result = commands.demo(keep=keep)
        if fmt is Format.table:
            out.print(result.intro, highlight=False)
        _show(result.analysis, fmt, result.timezone)
        if fmt is Format.table:
            print_insights(result.insights, out)
            out.print(result.outro, highlight=False)


@app.command()
def ack(
    thread_id: Annotated[str, typer.Argument(help="Conversation id from `report`.")],
    config: ConfigOpt,
    now: NowOpt = None,
) -> None:
    """Close THREAD_ID's awaiting turn without a latency ("handled elsewhere")."""
    with cli_errors():
        closed = commands.ack(config, thread_id, now=now)
        out.print(f"acknowledged {len(closed)} awaiting turn(s) in {lit(thread_id)}")


@app.command()
def sync(
    config: ConfigOpt,
    once: Annotated[bool, typer.Option("--once", help="Catch up, then exit.")] = False,
) -> None:
    """Fetch new mail from every account into the store (`--once`: catch up and exit)."""
    with cli_errors():
        configure_logging()
        code = commands.sync_once(config, console=err, progress=err.is_terminal, once=once)
        raise typer.Exit(code)


@app.command()
def rebuild(config: ConfigOpt) -> None:
    """Recompute every result from the stored facts under the current rules."""
    with cli_errors():
        from responsewatch.app.rebuild import rebuild as run_rebuild

        configure_logging()
        done = run_rebuild(config, console=err, progress=err.is_terminal)
        out.print(
            f"rebuilt {done.messages} messages, {done.conversations} conversations, "
            f"{done.awaiting} awaiting a reply, in {done.seconds:.1f} s"
            + (" (rules changed)" if done.rules_changed else "")
        )


@app.command()
def check(config: ConfigOpt) -> None:
    """Validate the configuration and test each account's connection."""
    with cli_errors():
        code = commands.check(config, out)
        raise typer.Exit(code)


@app.command()
def run(config: ConfigOpt) -> None:
    """The daemon: follow every account (IDLE), recompute, serve metrics, send the digest."""
    with cli_errors():
        from responsewatch.app.daemon import run_daemon

        configure_logging()
        raise typer.Exit(run_daemon(config))


@app.command()
def digest(
    config: ConfigOpt,
    preview: Annotated[
        Path | None, typer.Option("--preview", help="Write the digest to OUT.html (and OUT.txt).")
    ] = None,
    send: Annotated[bool, typer.Option("--send", help="Send today's digest now.")] = False,
    now: NowOpt = None,
) -> None:
    """Preview or send the daily digest."""
    with cli_errors():
        from responsewatch.app.digest_app import digest_command

        if (preview is None) == (not send):
            raise typer.BadParameter("give exactly one of --preview OUT.html or --send")
        for line in digest_command(config, preview=preview, send=send, now=now):
            out.print(cell(line), highlight=False)


@app.command()
def notify(
    config: ConfigOpt,
    test: Annotated[
        bool, typer.Option("--test", help="Send one test notification through every URL.")
    ] = False,
    preview: Annotated[
        bool, typer.Option("--preview", help="Print what would be sent now and what is held.")
    ] = False,
    now: NowOpt = None,
) -> None:
    """Nudges: test every notification channel, or preview what is due now."""
    with cli_errors():
        from responsewatch.app.notify_app import notify_command

        if test == preview:
            raise typer.BadParameter("give exactly one of --test or --preview")
        lines, code = notify_command(config, test=test, preview=preview, now=now)
        for line in lines:
            out.print(line, highlight=False, markup=False)
        raise typer.Exit(code)


archive_app = typer.Typer(help="The written-agreement evidence archive.", no_args_is_help=True)
app.add_typer(archive_app, name="archive")


@archive_app.command("list")
def archive_list(
    config: ConfigOpt,
    fmt: Annotated[ThreadsFormat, typer.Option("--format", "-f")] = ThreadsFormat.table,
    include_rejected: Annotated[
        bool, typer.Option("--all", help="Also list the entries rejected with `archive reject`.")
    ] = False,
) -> None:
    """List archived agreements (rejected ones only with --all)."""
    with cli_errors():
        from responsewatch.app.archive_app import archive_list as run_list

        entries = run_list(config, include_rejected=include_rejected)
        if fmt is ThreadsFormat.json:
            _emit_json(entries)
        else:
            from responsewatch.app.archive_app import print_entries

            print_entries(entries, out)


@archive_app.command("verify")
def archive_verify(config: ConfigOpt) -> None:
    """Re-hash every archived message and the ledger chain; exit 4 on the first break."""
    with cli_errors():
        from responsewatch.app.archive_app import archive_verify as run_verify

        for line in run_verify(config):
            out.print(cell(line), highlight=False)


@archive_app.command("export")
def archive_export(
    directory: Annotated[Path, typer.Argument(help="Folder to write the export into.")],
    config: ConfigOpt,
) -> None:
    """Write eml files, index.csv, ledger.jsonl and a verification report to DIRECTORY."""
    with cli_errors():
        from responsewatch.app.archive_app import archive_export as run_export

        for line in run_export(config, directory):
            out.print(cell(line), highlight=False)


@archive_app.command("add")
def archive_add(
    message_id: Annotated[str, typer.Argument(help="Message-ID of the message to archive.")],
    config: ConfigOpt,
) -> None:
    """Archive one message by hand (fetches its original bytes from the server)."""
    with cli_errors():
        from responsewatch.app.archive_app import archive_add as run_add

        for line in run_add(config, message_id):
            out.print(cell(line), highlight=False)


@app.command()
def leave(
    config: ConfigOpt,
    fmt: Annotated[ThreadsFormat, typer.Option("--format", "-f")] = ThreadsFormat.table,
) -> None:
    """List the leave periods in force (config, ICS, auto-replies) and where each came from."""
    with cli_errors():
        from responsewatch.app.leave_app import leave_json, leave_report, print_leave

        found = leave_report(config)
        if fmt is ThreadsFormat.json:
            _emit_json(leave_json(found))
        else:
            print_leave(found, out)


@archive_app.command("reject")
def archive_reject(
    message_id: Annotated[str, typer.Argument(help="Message-ID of the archived message.")],
    config: ConfigOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why it is not an agreement.")],
) -> None:
    """Mark an archived detection as wrong: a rejection entry is appended to the ledger."""
    with cli_errors():
        from responsewatch.app.archive_app import archive_reject as run_reject

        for line in run_reject(config, message_id, reason):
            out.print(line, highlight=False, markup=False)


@app.command()
def init(
    config: ConfigOpt,
    email: Annotated[str | None, typer.Option("--email", help="Your e-mail address.")] = None,
    imap_host: Annotated[
        str | None, typer.Option("--imap-host", help="IMAP server (skips discovery).")
    ] = None,
    imap_port: Annotated[int | None, typer.Option("--imap-port", help="IMAP port.")] = None,
    tls: Annotated[
        str | None, typer.Option("--tls", help="implicit | starttls | none-loopback-only.")
    ] = None,
    username: Annotated[str | None, typer.Option("--username", help="Login name.")] = None,
    ca_file: Annotated[
        str | None, typer.Option("--ca-file", help="Trust this CA (self-signed server).")
    ] = None,
    password_env: Annotated[
        str | None, typer.Option("--password-env", help="Variable holding the password.")
    ] = None,
    password_command: Annotated[
        str | None, typer.Option("--password-command", help="Command printing the password.")
    ] = None,
    password_file: Annotated[
        str | None, typer.Option("--password-file", help="File holding the password (0600).")
    ] = None,
    clients_from_sent: Annotated[
        int, typer.Option("--clients-from-sent", help="Top N correspondents proposed as clients.")
    ] = 5,
    yes: Annotated[bool, typer.Option("--yes", help="Accept every proposal: no prompts.")] = False,
    language: Annotated[str | None, typer.Option("--language", help="fr | en.")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="IANA time zone.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing config.")] = False,
    oauth: Annotated[
        str | None, typer.Option("--oauth", help="google | microsoft: XOAUTH2, no password.")
    ] = None,
    oauth_client_id: Annotated[
        str | None, typer.Option("--oauth-client-id", help="Your OAuth app's client id.")
    ] = None,
) -> None:
    """Discover your account, log in, propose clients from Sent mail, write a checked config."""
    with cli_errors():
        from responsewatch.app.init_app import InitOptions, RichAnswers, YesAnswers, run_init

        opts = InitOptions(
            config=config,
            email=email,
            imap_host=imap_host,
            imap_port=imap_port,
            tls=tls,
            username=username,
            ca_file=ca_file,
            password_env=password_env,
            password_command=password_command,
            password_file=password_file,
            clients_from_sent=clients_from_sent,
            yes=yes,
            language=language,
            timezone=timezone,
            force=force,
            oauth=oauth,
            oauth_client_id=oauth_client_id,
        )
        console = Console(soft_wrap=True, highlight=False)
        answers = YesAnswers() if yes else RichAnswers(console)
        raise typer.Exit(run_init(opts, console, answers))


oauth_app = typer.Typer(help="OAuth sign-in for IMAP (Microsoft 365, Gmail).", no_args_is_help=True)
app.add_typer(oauth_app, name="oauth")


@oauth_app.command("login")
def oauth_login(
    config: ConfigOpt,
    account: Annotated[str, typer.Option("--account", help="Account name in the config.")],
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the address, do not open a browser.")
    ] = False,
) -> None:
    """Sign an account in once (device code or browser); tokens are cached 0600."""
    with cli_errors():
        import webbrowser

        from responsewatch.app.init_app import oauth_login_command

        opener = None if no_browser else webbrowser.open
        for line in oauth_login_command(config, account, out, open_browser=opener):
            out.print(line, highlight=False)


@app.command()
def version() -> None:
    """Print the version."""
    out.print(f"responsewatch {__version__}")


def main() -> None:
    configure_logging()
    app()
