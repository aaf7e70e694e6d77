"""``DateTime`` (RFC 3339 with an offset, answered in UTC with ``Z``) and a strict ``UUID``."""

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import strawberry

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def parse_datetime(value: Any) -> datetime:
    # A naive time would be read in the server's zone, so an offset is required (SPEC §2).
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError(
            "DateTime must be RFC 3339 with an offset, e.g. 2025-09-12T09:00:00Z "
            "or 2025-09-12T11:00:00+02:00"
        )
    fraction = re.search(r"\.(\d+)", value)
    if fraction and len(fraction.group(1)) > 6:
        # Python keeps microseconds; finer digits are cut, not rounded, as PostgreSQL does.
        value = value.replace(fraction.group(0), fraction.group(0)[:7])
    try:
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except ValueError as exc:
        raise ValueError(f"DateTime is not a valid date and time: {exc}") from None


def serialize_datetime(value: datetime) -> str:
    # isoformat, not strftime: a catalogue page serialises thousands of these, and isoformat
    # is several times faster. Without a zone it prints "YYYY-MM-DDTHH:MM:SS[.ffffff]".
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    if "." in text:
        text = text.rstrip("0")
    return text + "Z"


def parse_uuid(value: Any) -> uuid.UUID:
    if not isinstance(value, str) or not _UUID.match(value):
        raise ValueError("UUID must be in the form 123e4567-e89b-12d3-a456-426614174000")
    return uuid.UUID(value)


def serialize_uuid(value: uuid.UUID | str) -> str:
    return str(value).lower()


SCALARS: dict[object, Any] = {
    datetime: strawberry.scalar(
        name="DateTime",
        description="RFC 3339 date and time with an offset; answered in UTC (Z).",
        specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339",
        serialize=serialize_datetime,
        parse_value=parse_datetime,
    ),
    uuid.UUID: strawberry.scalar(
        name="UUID",
        description="A UUID in its canonical hyphenated form.",
        serialize=serialize_uuid,
        parse_value=parse_uuid,
    ),
}


def to_id(value: uuid.UUID) -> strawberry.ID:
    """Ids in responses are canonical lower-case UUIDs (SPEC §2.5)."""
    return strawberry.ID(str(value))
