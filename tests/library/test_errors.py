"""One exception root: a program using the library catches every error it raises with one class."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import sotto_voice
from sotto_voice.errors import SottoError


def _library_exceptions() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for module in pkgutil.walk_packages(sotto_voice.__path__, "sotto_voice."):
        if module.name.endswith("__main__"):
            continue
        try:
            loaded = importlib.import_module(module.name)
        except ImportError:  # an optional extra this Python lacks
            continue
        found += [
            value
            for _, value in inspect.getmembers(loaded, inspect.isclass)
            if issubclass(value, BaseException) and value.__module__ == loaded.__name__
        ]
    return found


EXCEPTIONS = _library_exceptions()


def test_the_walk_finds_the_library_errors() -> None:
    """The walk below sees the errors of every part: messages, link, config, engine."""
    names = {error.__name__ for error in EXCEPTIONS}
    assert {"MessageError", "LinkError", "ConfigFileError", "TtsError", "SttError"} <= names


@pytest.mark.parametrize("error", EXCEPTIONS, ids=lambda error: error.__qualname__)
def test_every_library_error_is_a_sotto_error(error: type[BaseException]) -> None:
    """`except SottoError` catches it."""
    assert issubclass(error, SottoError)


def test_a_bad_message_is_still_a_value_error() -> None:
    """Callers that catch ValueError around a message reader keep working."""
    from sotto_voice.messages import MessageError

    assert issubclass(MessageError, ValueError)
