from __future__ import annotations

import importlib

import pytest

from responsewatch import errors


def _subclasses(cls: type) -> list[type]:
    out, stack = [], [cls]
    while stack:
        for sub in stack.pop().__subclasses__():
            out.append(sub)
            stack.append(sub)
    return out


def test_every_error_maps_to_2_3_or_4() -> None:
    for module in (
        "responsewatch.adapters.imap",
        "responsewatch.adapters.store",
        "responsewatch.config",
    ):
        importlib.import_module(module)
    subclasses = _subclasses(errors.RwError)
    assert {
        errors.ConfigError,
        errors.SourceUnavailable,
        errors.AuthFailed,
        errors.DataError,
    } <= set(subclasses)
    for cls in subclasses:
        assert cls.exit_code in (2, 3, 4), cls


def test_config_error_keeps_every_problem() -> None:
    exc = errors.ConfigError(["a: x", "b: y"])
    assert exc.problems == ["a: x", "b: y"] and str(exc) == "a: x\nb: y"


@pytest.mark.parametrize(
    "module",
    [
        "responsewatch.errors",
        "responsewatch.ports",
        "responsewatch.config",
        "responsewatch.core.parsing",
    ],
)
def test_exported_members_exist(module: str) -> None:
    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name}"
