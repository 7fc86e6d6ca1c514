"""The ``nudges`` table (migration ``_v_nudges``): each nudge per channel, recorded before
and after its delivery. Its own connection, used by one thread (the nudge tick)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from responsewatch.adapters.store import SqliteStore

__all__ = ["NudgeLog", "NudgeRow"]

NudgeRow = tuple[str, str, str, str, int]  # kind, ref, channel, status, attempts


class NudgeLog:
    def __init__(self, path: Path) -> None:
        self.store = SqliteStore.open(path)
        self._db = self.store._db

    def close(self) -> None:
        self.store.close()

    def delivered(self, channel: str) -> set[tuple[str, str]]:
        """(kind, ref) keys sent through ``channel``: the only final status."""
        return {
            (str(k), str(r))
            for k, r in self._db.execute(
                "SELECT kind, ref FROM nudges WHERE channel = ? AND status = 'sent'", (channel,)
            )
        }

    def rows(self) -> list[NudgeRow]:
        return [
            (str(k), str(r), str(c), str(s), int(n))
            for k, r, c, s, n in self._db.execute(
                "SELECT kind, ref, channel, status, attempts FROM nudges ORDER BY first_at, kind"
            )
        ]

    def mark(
        self,
        channel: str,
        keys: Iterable[tuple[str, str]],
        status: str,
        at: datetime,
        *,
        error: str | None = None,
        attempt: bool = False,
    ) -> None:
        ts = at.timestamp()
        with self.store._transaction() as db:
            db.executemany(
                "INSERT INTO nudges (kind, ref, channel, status, attempts, first_at, updated_at, "
                "error) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(kind, ref, channel) DO UPDATE "
                "SET status = excluded.status, attempts = attempts + excluded.attempts, "
                "updated_at = excluded.updated_at, error = excluded.error",
                ((k, r, channel, status, int(attempt), ts, ts, error) for k, r in keys),
            )

    def latest_ingest(self) -> datetime | None:
        """When the newest fact was stored: newer than an analysis means it may be stale."""
        row = self._db.execute("SELECT max(ingested_at) FROM messages").fetchone()
        return datetime.fromtimestamp(row[0], UTC) if row and row[0] is not None else None
