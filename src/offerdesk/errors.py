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
    """An expected refusal: its code and message go to the client as they are.

    ``field`` is the input path of the offending value (``offerEvent.maxParticipants``), so a
    client can show the error beside the right form field.
    """

    def __init__(self, code: ErrorCode, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def bad_input(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.BAD_USER_INPUT, message, field=field)


def not_found(what: str, field: str | None = None) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"{what} not found", field=field)
