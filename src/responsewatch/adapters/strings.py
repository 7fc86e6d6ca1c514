"""Every user-facing string of the digest, the status page (``web_*``) and the archive's
evidence report (``archive_*``), per language: one file, ``templates/strings.json``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources

__all__ = ["CATALOG", "section"]

CATALOG: Mapping[str, Mapping[str, str]] = json.loads(
    resources.files("responsewatch").joinpath("templates/strings.json").read_text("utf-8")
)


def section(language: str, prefix: str) -> dict[str, str]:
    """The strings whose key starts with ``prefix``, the prefix removed (templates say
    ``t.title``); an unknown language falls back to English."""
    table = CATALOG.get(language, CATALOG["en"])
    return {k[len(prefix) :]: v for k, v in table.items() if k.startswith(prefix)}
