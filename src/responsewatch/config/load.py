"""Read the TOML file; the schema and the conversion do the rest."""

from __future__ import annotations

import tomllib
from pathlib import Path

from responsewatch.config.convert import settings_from_mapping
from responsewatch.config.values import Settings
from responsewatch.errors import ConfigError

__all__ = ["load_settings"]


def load_settings(path: Path) -> Settings:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--config {path}: cannot be read ({exc})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return settings_from_mapping(raw, base=path.parent.resolve(), source=path)
