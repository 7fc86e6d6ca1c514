"""Secrets for the app layer: the one implementation lives in :mod:`responsewatch.secrets`
(adapters may not import the app)."""

from __future__ import annotations

from responsewatch.secrets import resolve_secret

__all__ = ["resolve_secret"]
