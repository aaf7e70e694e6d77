"""Input rules shared by every part of the domain (SPEC §3.9 to 3.11).

Text that names something — titles, names, refs — follows one cleaning rule (``visible``):
Unicode NFC; whitespace and format characters (category Cf: zero-width spaces and joiners,
the byte-order mark, direction marks) stripped at both edges; refused when nothing visible is
left, as an empty value is. Look-ups by ref clean the ref the same way (``lookup_key``), so a
ref sent with a stray BOM finds the ref stored without it.
"""

import unicodedata
from typing import Any

from sqlalchemy import ColumnElement, or_

from offerdesk.errors import bad_input

MAX_TITLE_LENGTH = 500
MAX_REF_LENGTH = 255
MAX_TEXT_LENGTH = 20_000


def storable(value: str, field: str) -> str:
    """``value`` unchanged, or BAD_USER_INPUT: PostgreSQL cannot store U+0000 in text, so it is
    refused here, the same on both engines, instead of failing as a driver error."""
    if "\x00" in value:
        raise bad_input(field, f"{field} must not contain the NUL character (U+0000)")
    return value


def _invisible(character: str) -> bool:
    return character.isspace() or unicodedata.category(character) == "Cf"


def visible(value: str) -> str:
    """``value`` in NFC with whitespace and format characters stripped at both edges; "" when
    it has no visible character."""
    text = unicodedata.normalize("NFC", value)
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end]


def lookup_key(value: str, field: str) -> str:
    """A ref given to look something up, cleaned as stored refs are (BAD_USER_INPUT on
    ``field`` for a NUL character)."""
    return visible(storable(value, field))


def clean_title(value: str, field: str, max_length: int = MAX_TITLE_LENGTH) -> str:
    """A title or name: cleaned by ``visible``; BAD_USER_INPUT on ``field`` when nothing
    visible is left or it is longer than ``max_length`` characters."""
    cleaned = visible(storable(value, field))
    if not cleaned:
        raise bad_input(field, f"{field} must not be empty")
    if len(cleaned) > max_length:
        raise bad_input(field, f"{field} must be at most {max_length} characters")
    return cleaned


def clean_ref(value: str | None, field: str) -> str | None:
    """A ref is the integrator's own id: kept as sent but cleaned by ``visible``, never blank or
    padded (BAD_USER_INPUT on ``field``); None clears it."""
    if value is None:
        return None
    cleaned = visible(storable(value, field))
    if not cleaned:
        raise bad_input(field, f"{field} must not be blank; use null for no ref")
    if len(cleaned) > MAX_REF_LENGTH:
        raise bad_input(field, f"{field} must be at most {MAX_REF_LENGTH} characters")
    return cleaned


def clean_text(value: str | None, field: str, max_length: int = MAX_TEXT_LENGTH) -> str | None:
    if value is None:
        return None
    if len(value) > max_length:
        raise bad_input(field, f"{field} must be at most {max_length} characters")
    return storable(value, field)


def one_key(**keys: Any) -> tuple[str, Any]:
    """The single look-up key a call was given, as ``(name, value)``: exactly one of ``keys``
    must be non-None, else BAD_USER_INPUT on the first key's path ("give exactly one of …")."""
    given = [(name, value) for name, value in keys.items() if value is not None]
    if len(given) != 1:
        names = " or ".join(keys)
        raise bad_input(next(iter(keys)), f"give exactly one of {names}", tuple(keys))
    return given[0]


def search_term(search: str | None) -> str | None:
    """The LIKE pattern of a search (trimmed, ``%``, ``_`` and ``/`` escaped with ``/``), or
    None for no search (none given, or only blanks); BAD_USER_INPUT on ``search`` for NUL."""
    if search is None:
        return None
    term = storable(search, "search").strip()
    if not term:
        return None
    return term.replace("/", "//").replace("%", "/%").replace("_", "/_")


def search_filter(term: Any, *columns: Any) -> ColumnElement[bool]:
    """A case-insensitive substring match of ``term`` (from ``search_term``: a value or a bound
    parameter) on any of ``columns``.

    ``%`` and ``_`` are matched literally: a search for "50%" is not a wildcard.
    """
    return or_(*(column.icontains(term, escape="/") for column in columns))
