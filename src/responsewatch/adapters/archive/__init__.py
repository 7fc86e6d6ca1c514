"""The written-agreement evidence archive, in four parts:

- ``ledger``: objects, the hash-chained ledger, its index, ``verify`` (``EvidenceArchive``);
- ``dkim``: DKIM verification with bounded DNS and recorded verdicts;
- ``source``: whole originals and the opt-in tag, through the ``FullFetcher``/``Tagger`` ports;
- ``report``: the fr/en HTML/PDF evidence report (imported where it is used: it loads WeasyPrint).

The names callers use are re-exported here.
"""

from responsewatch.adapters.archive.dkim import (
    DkimResult,
    GuardedLookup,
    TxtLookup,
    system_lookup,
    verdict,
    verify_dkim,
)
from responsewatch.adapters.archive.ledger import (
    AGREEMENT,
    AGREEMENT_KEYWORD,
    ARCHIVED_KEYWORD,
    DKIM_RECHECK,
    GENESIS,
    NOT_AGREEMENT_KEYWORD,
    REJECTION,
    EvidenceArchive,
    LedgerEntry,
    NewEntry,
    Problem,
    VerifyResult,
    agreements_by_client,
    canonical,
    current_agreements,
    entry_hash,
    rejections,
)
from responsewatch.adapters.archive.source import fetch_full, fetch_full_many, tag_message

__all__ = [
    "AGREEMENT",
    "AGREEMENT_KEYWORD",
    "ARCHIVED_KEYWORD",
    "DKIM_RECHECK",
    "GENESIS",
    "NOT_AGREEMENT_KEYWORD",
    "REJECTION",
    "DkimResult",
    "EvidenceArchive",
    "GuardedLookup",
    "LedgerEntry",
    "NewEntry",
    "Problem",
    "TxtLookup",
    "VerifyResult",
    "agreements_by_client",
    "canonical",
    "current_agreements",
    "entry_hash",
    "fetch_full",
    "fetch_full_many",
    "rejections",
    "system_lookup",
    "tag_message",
    "verdict",
    "verify_dkim",
]
