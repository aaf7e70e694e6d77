"""The domain's error codes (SPEC §2.5) and the exception services raise with them."""

from enum import StrEnum


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    EVENT_FULL = "EVENT_FULL"
    REGISTRATION_CLOSED = "REGISTRATION_CLOSED"
    EVENT_INACTIVE = "EVENT_INACTIVE"
    USER_INACTIVE = "USER_INACTIVE"
    CAPACITY_BELOW_ENROLLED = "CAPACITY_BELOW_ENROLLED"
    TOO_COMPLEX = "TOO_COMPLEX"
    RATE_LIMITED = "RATE_LIMITED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


class DomainError(Exception):
    """An expected refusal: its code and message go to the client.

    ``field`` is the *domain path* of the offending value: snake_case names of the service's
    own parameters and fields joined by dots, list positions as numbers
    (``offer_event.dates.0.end``, ``user_refs.3``). Services know nothing of the API; the
    GraphQL layer turns a domain path into the API's input path (``offerEvent.dates.0.end``)
    in one place (graphql/errors.py), in ``field`` and wherever the message names the field
    or one of ``mentions`` (further domain paths the message names).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        mentions: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.mentions = mentions


def bad_input(field: str, message: str, mentions: tuple[str, ...] = ()) -> DomainError:
    """BAD_USER_INPUT on the domain path ``field``."""
    return DomainError(ErrorCode.BAD_USER_INPUT, message, field=field, mentions=mentions)


def not_found(what: str, field: str | None = None) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"{what} not found", field=field)
