"""Client proposals from Sent headers: counting, exclusions, names (pure core)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from responsewatch.core.models import Message
from responsewatch.core.onboarding import ClientProposal, client_name, propose_clients

ME = frozenset({"claire@martin-conseil.fr"})
NOW = datetime(2026, 12, 1, tzinfo=UTC)
SINCE = NOW - timedelta(days=90)


def sent(
    n: int, to: tuple[str, ...], *, cc: tuple[str, ...] = (), age_days: float = 1, **kw
) -> Message:
    return Message(
        message_id=f"m{n}@x",
        from_addr="claire@martin-conseil.fr",
        to=to,
        cc=cc,
        date=NOW - timedelta(days=age_days),
        **kw,
    )


def test_counts_per_message_domains_and_free_mail_addresses() -> None:
    msgs = [
        sent(1, ("a@acme.fr", "b@acme.fr")),  # one message, counted once for acme.fr
        sent(2, ("a@acme.fr",), cc=("paul@gmail.com",)),
        sent(3, ("paul@gmail.com", "marie@gmail.com")),
        sent(4, ("x@bolt.com",)),
    ]
    got = propose_clients(msgs, me=ME, since=SINCE)
    assert got == [
        ClientProposal("acme.fr", False, 2),
        ClientProposal("paul@gmail.com", True, 2),
        ClientProposal("bolt.com", False, 1),
        ClientProposal("marie@gmail.com", True, 1),
    ]


def test_excludes_me_my_domain_robots_automated_old_and_foreign_senders() -> None:
    msgs = [
        sent(1, ("associate@martin-conseil.fr", "dev@sub.martin-conseil.fr")),
        sent(2, ("noreply@acme.fr", "notifications@acme.fr", "mailer-daemon@acme.fr")),
        sent(3, ("a@acme.fr",), automated=True),
        sent(4, ("a@acme.fr",), auto_reply=True),
        sent(5, ("a@acme.fr",), age_days=91),
        Message("m6@x", from_addr="boss@other.org", to=("a@acme.fr",), date=NOW),
        sent(7, ("<script>@evil", "a@-bad-.com", "plain")),
    ]
    assert propose_clients(msgs, me=ME, since=SINCE) == []


def test_names_from_domains_and_addresses() -> None:
    assert client_name(ClientProposal("bolt-industries.com", False, 1)) == "Bolt Industries"
    assert client_name(ClientProposal("mail.acme.fr", False, 1)) == "Acme"
    assert client_name(ClientProposal("paul.dune@gmail.com", True, 1)) == "Paul Dune"


ADDR = st.builds(
    lambda local, dom: f"{local}@{dom}",
    st.sampled_from(["a", "b", "noreply", "claire", "x.y"]),
    st.sampled_from(["acme.fr", "gmail.com", "martin-conseil.fr", "bolt.com", "sub.acme.fr"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(ADDR, min_size=1, max_size=4), st.floats(0, 120)), max_size=25))
def test_property_counts_are_bounded_sorted_and_never_mine(
    rows: list[tuple[list[str], float]],
) -> None:
    msgs = [sent(i, tuple(to), age_days=age) for i, (to, age) in enumerate(rows)]
    got = propose_clients(msgs, me=ME, since=SINCE)
    recent = [m for m in msgs if m.date is not None and m.date >= SINCE]
    counts = [p.messages for p in got]
    assert counts == sorted(counts, reverse=True)
    for p in got:
        assert "martin-conseil.fr" not in p.key and not p.key.startswith("noreply@")
        assert p.is_address == p.key.endswith("@gmail.com")
        # a proposal's count is exactly the number of recent messages naming it
        named = [
            m
            for m in recent
            if any(
                (a if a.endswith("@gmail.com") else a.rpartition("@")[2]) == p.key
                for a in m.to
                if not a.startswith("noreply@")
            )
        ]
        assert p.messages == len(named)
