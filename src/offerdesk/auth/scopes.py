"""The scopes a token can carry (SPEC §1)."""

from enum import StrEnum
from functools import lru_cache

from offerdesk.errors import bad_input


class Scope(StrEnum):
    EVENTS_READ = "events.read"
    EVENTS_WRITE = "events.write"
    USERS_READ = "users.read"
    USERS_WRITE = "users.write"
    CONTENT_READ = "content.read"
    CONTENT_WRITE = "content.write"
    # Webhook subscriptions and their delivery log (issue 12): reading them shows where data
    # goes, so one scope covers reads and writes.
    WEBHOOKS_MANAGE = "webhooks.manage"


ALL_SCOPES = frozenset(Scope)


# Remembered: every request parses its token's scopes (auth/service.principal_from_row), and a
# service has a handful of distinct scope lists.
@lru_cache(maxsize=256)
def parse_scopes(text: str, field: str = "scopes") -> frozenset[Scope]:
    """Parse a space-separated scope list (the OAuth 2.0 form); unknown names are an error
    (BAD_USER_INPUT naming ``field``)."""
    names = text.split()
    unknown = sorted(set(names) - {s.value for s in Scope})
    if unknown:
        raise bad_input(field, f"unknown scope(s): {', '.join(unknown)}")
    return frozenset(Scope(name) for name in names)


def format_scopes(scopes: frozenset[Scope]) -> str:
    return " ".join(sorted(scopes))
