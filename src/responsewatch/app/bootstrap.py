"""The composition root: the only place that picks concrete adapters."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

from responsewatch.adapters.imap import ImapAccount, ImapMailSource
from responsewatch.adapters.store import SqliteStore
from responsewatch.app.pipeline import no_gc
from responsewatch.app.secrets import resolve_secret
from responsewatch.app.sync import SyncReport, sync_files, sync_source
from responsewatch.app.threads_app import compute_from_store
from responsewatch.config import AccountSettings, SecretRef, Settings
from responsewatch.core.insights import Insights, insights
from responsewatch.core.models import Analysis, Conversation, Message
from responsewatch.errors import ConfigError, RwError
from responsewatch.ports import Clock, MailSource

__all__ = ["App", "SystemClock", "bootstrap"]

log = structlog.get_logger("responsewatch")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(slots=True)
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


SourceFactory = Callable[[AccountSettings], MailSource]


def imap_account(account: AccountSettings) -> ImapAccount:
    """Settings -> the IMAP adapter's account; the secret is resolved only when connecting."""
    key = f"accounts[{account.name}]"
    context = None
    ca_file = account.options.get("ca_file")
    if ca_file:
        try:
            context = ssl.create_default_context(cafile=str(Path(str(ca_file)).expanduser()))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{key}.ca_file: cannot load {ca_file} ({exc})") from None
    oauth = account.secret.oauth2
    return ImapAccount(
        name=account.name,
        host=account.host,
        port=account.port,
        tls=account.tls,
        username=account.username,
        secret=lambda: oauth_token(account) if oauth else resolve_secret(account.secret, key),
        auth="xoauth2" if oauth else "password",
        folders=account.folders,
        ssl_context=context,
        batch_size=int(account.options.get("batch_size", 500)),
    )


def oauth_token(account: AccountSettings) -> str:
    """XOAUTH2 access token from ``oauth2.token_command`` (e.g. a token-cache helper)."""
    oauth = account.secret.oauth2 or {}
    key = f"accounts[{account.name}].oauth2"
    if oauth.get("provider"):  # tokens cached by `responsewatch oauth login`, refreshed here
        from responsewatch.adapters.oauth_tokens import imap_token

        return imap_token(account.name, oauth)
    command = oauth.get("token_command")
    if not command:
        raise ConfigError(
            f"{key}.token_command: required for XOAUTH2 (a command printing an "
            "access token, e.g. from your OAuth token cache)"
        )
    return resolve_secret(SecretRef(command=str(command)), key)


def make_source(account: AccountSettings) -> MailSource:
    """A MailSource for a network account (file accounts are read by ``sync_files``)."""
    if account.type == "imap":
        return ImapMailSource(imap_account(account))
    if account.type == "graph":
        from responsewatch.adapters.graph import graph_source

        return graph_source(account)
    if account.type == "exchange":
        from responsewatch.adapters.exchange import exchange_source

        return exchange_source(account)
    raise ConfigError(f"accounts[{account.name}].type: {account.type!r} has no mail source")


@dataclass(slots=True)
class App:
    settings: Settings
    clock: Clock
    store: SqliteStore
    source_factory: SourceFactory = make_source
    sync_reports: list[SyncReport] = field(default_factory=list)

    def _facts_and_analysis(
        self, at: datetime
    ) -> tuple[dict[str, Message], Analysis, list[Conversation]]:
        with no_gc():
            messages = {m.message_id: m for m in self.store.messages()}
        # Conversations persisted in the store, refreshed for new facts only (step 4 of
        # issue 17); the same answer as threading everything (tests/unit/test_store_threads).
        analysis, conversations = compute_from_store(
            self.store,
            messages,
            self.settings.rules,
            now=at,
            acks=self.store.acks(),
            subject_fallback=self.settings.subject_fallback,
        )
        return messages, analysis, conversations

    def analysis(self, now: datetime | None = None) -> tuple[Analysis, list[Conversation]]:
        _messages, analysis, conversations = self._facts_and_analysis(now or self.clock.now())
        return analysis, conversations

    def report(self, now: datetime | None = None) -> Analysis:
        return self.analysis(now)[0]

    def report_with_insights(self, now: datetime | None = None) -> tuple[Analysis, Insights]:
        """The report plus its insights (after hours, long missions, quiet clients, trends)."""
        at = now or self.clock.now()
        messages, analysis, conversations = self._facts_and_analysis(at)
        with no_gc():
            found = insights(
                messages,
                analysis,
                self.settings.rules,
                now=at,
                quiet_after_s=self.settings.quiet_after_s,
                conversations=conversations,
            )
        return analysis, found

    def ack(self, thread_id: str, now: datetime | None = None) -> list[str]:
        """Close THREAD_ID's awaiting turns without a latency; returns their first messages."""
        at = now or self.clock.now()
        analysis, conversations = self.analysis(at)
        if not any(c.thread_id == thread_id for c in conversations):
            raise ConfigError(
                f"THREAD_ID {thread_id}: no such conversation (see `responsewatch report` "
                "for the ids of awaiting conversations)"
            )
        open_turns = [w for w in analysis.awaiting if w.thread_id == thread_id]
        if not open_turns:
            raise ConfigError(f"THREAD_ID {thread_id}: nothing awaits a reply in this conversation")
        for turn in open_turns:
            self.store.add_ack(turn.first_unanswered_message_id, thread_id, at)
        return [t.first_unanswered_message_id for t in open_turns]

    def sync_once(
        self,
        *,
        progress: Callable[[int], None] | None = None,
        sources: Sequence[MailSource] | None = None,
    ) -> list[SyncReport]:
        """Every account once; one failing account never stops the others. Agreements seen
        on the way (detected, or marked $RwAgreement) go to the evidence archive."""
        from responsewatch.app.archive_app import (  # the archive app imports this module
            AgreementWatcher,
            archive_maintenance,
            archive_new_agreements,
            open_archive,
        )

        archive = open_archive(self.settings, head=self.store)
        watcher = AgreementWatcher(self.settings, archive, now=self.clock.now)
        reports: list[SyncReport] = []
        for account in self.settings.accounts:
            try:
                if account.type in ("maildir", "mbox"):
                    report = sync_files(
                        account,
                        self.store,
                        now=self.clock.now,
                        progress=progress,
                        archiver=watcher.files(),
                    )
                else:
                    source = self._source_for(account, sources)
                    try:
                        report = sync_source(
                            source,
                            self.store,
                            now=self.clock.now,
                            progress=progress,
                            archiver=watcher.deferred(source),
                        )
                    finally:
                        source.close()
            except RwError as exc:
                kind = type(exc).__name__
                log.error("sync_failed", account=account.name, kind=kind, error=str(exc))
                try:
                    self.store.record_sync_error(account.name, kind, self.clock.now())
                except RwError as again:  # a full disk may refuse even this small write
                    log.error("sync_error_not_recorded", account=account.name, error=str(again))
                report = SyncReport(account.name, error=str(exc), exit_code=exc.exit_code)
            reports.append(report)
        try:
            archive_new_agreements(self, archive)
        except RwError as exc:  # the archive never stops the sync
            log.error("archive_failed", error=str(exc))
        archive_maintenance(self, archive)
        return reports

    def _source_for(
        self, account: AccountSettings, sources: Sequence[MailSource] | None
    ) -> MailSource:
        if sources is not None:
            for source in sources:
                if source.name == account.name:
                    return source
        return self.source_factory(account)

    def close(self) -> None:
        self.store.close()


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: SqliteStore | None = None,
    source_factory: SourceFactory | None = None,
) -> App:
    return App(
        settings=settings,
        clock=clock or SystemClock(),
        store=store or SqliteStore.open(settings.store_path),
        source_factory=source_factory or make_source,
    )
