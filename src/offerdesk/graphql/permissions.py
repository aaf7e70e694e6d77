"""Scope checks (SPEC §1): what an operation needs, and what a type's data needs.

Two rules, both answered with ``FORBIDDEN`` naming the scope:

* **Operations.** Every root field names the scope it needs (``requires``): a query field
  its area's ``.read`` scope, a mutation field its ``.write`` scope.
* **Types.** A type's data needs that type's scope wherever it is reached — a root field, a
  field nested in another type's data, a mutation's payload (``TYPE_READERS``; the write
  scope of a type implies reading it). ``guard_types`` attaches the check to every field
  whose return type is protected, from the table, when the schema is built: a new field
  returning a protected type is checked without being told. Refused, the field is null with
  one error at its path, and the rest of the answer is kept; such fields are nullable
  wherever the path to them does not already grant the type (docs/decisions.md).
"""

from collections.abc import Callable, Mapping
from typing import Any

from graphql import GraphQLField, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from graphql import get_named_type as named_type
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from offerdesk.auth.scopes import Scope
from offerdesk.errors import DomainError, ErrorCode


class HasScope(BasePermission):
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return self.scope in info.context.principal.scopes

    def on_unauthorized(self) -> None:
        raise DomainError(ErrorCode.FORBIDDEN, f"this operation needs the scope {self.scope.value}")


def requires(scope: Scope) -> list[FieldExtension]:
    """Field extensions that refuse the field unless the token carries ``scope``."""
    return [PermissionExtension(permissions=[HasScope(scope)], use_directives=False)]


def required_scope(extensions: list[FieldExtension]) -> Scope | None:
    """The scope a field was declared with (for the scope matrix test and documentation)."""
    for extension in extensions:
        if isinstance(extension, PermissionExtension):
            for permission in extension.permissions:
                if isinstance(permission, HasScope):
                    return permission.scope
    return None


_EVENTS = frozenset({Scope.EVENTS_READ, Scope.EVENTS_WRITE})
_USERS = frozenset({Scope.USERS_READ, Scope.USERS_WRITE})
_CONTENT = frozenset({Scope.CONTENT_READ, Scope.CONTENT_WRITE})
# Webhooks have one scope for reading and writing (SPEC §1 as extended by issue 12).
_WEBHOOKS = frozenset({Scope.WEBHOOKS_MANAGE})

# GraphQL object type -> the scopes of which a token needs one to read it (SPEC §1: events.*
# covers offers, offer events, dates and enrollments). A list's connection and edges are its
# nodes' data (their count and cursors too). Types not listed hold no data of their own: the
# payloads of mutations, PageInfo and BulkResponse carry what their root field's scope allows
# and what is checked at their own fields. tests/test_scope_matrix.py makes every object type
# of the schema one or the other.
TYPE_READERS: Mapping[str, frozenset[Scope]] = {
    "Offer": _EVENTS,
    "OfferConnection": _EVENTS,
    "OfferEdge": _EVENTS,
    "OfferEvent": _EVENTS,
    "OfferEventDate": _EVENTS,
    "Enrollment": _EVENTS,
    "EnrollmentConnection": _EVENTS,
    "EnrollmentEdge": _EVENTS,
    "EnrollmentStatusChange": _EVENTS,
    "User": _USERS,
    "UserConnection": _USERS,
    "UserEdge": _USERS,
    "ContentItem": _CONTENT,
    "ContentItemConnection": _CONTENT,
    "ContentItemEdge": _CONTENT,
    # The change feed needs events.read; which user events a reader sees is the feed's own
    # rule (users.read), in outbox/service.py.
    "Change": _EVENTS,
    "ChangeConnection": _EVENTS,
    "ChangeEdge": _EVENTS,
    "WebhookSubscription": _WEBHOOKS,
    "WebhookDelivery": _WEBHOOKS,
    "WebhookDeliveryConnection": _WEBHOOKS,
    "WebhookDeliveryEdge": _WEBHOOKS,
}

# Where a guarded field keeps its readers, for compiled reads (compiler/plan.py).
_READERS_KEY = "offerdesk-readers"


def guard_types(
    schema: GraphQLSchema, readers: Mapping[str, frozenset[Scope]] = TYPE_READERS
) -> None:
    """Make every field of ``schema`` that returns a type in ``readers`` refuse a principal
    holding none of that type's scopes (SPEC §1): the field's resolver then raises
    ``DomainError(FORBIDDEN)`` naming the field, the type and the scopes, so the field is
    null with that error at its path. Changes ``schema`` in place; call it once per schema.

    Done on the built graphql-core schema rather than on Strawberry's fields because only
    there is a generic field's type known (``Edge.node`` is a ``User`` in ``UserEdge``).
    A field needs no check where its parent already grants the type: a root field whose own
    scope is one of the type's (``Query.user``, ``users.read``), or a field of a type whose
    every reader also reads the returned type (``Offer.offerEvents``) — every object of
    that parent was itself reached through a check.
    """
    for parent in schema.type_map.values():
        if not isinstance(parent, GraphQLObjectType) or parent.name.startswith("__"):
            continue
        granted = readers.get(parent.name)
        for name, field in parent.fields.items():
            needed = readers.get(named_type(field.type).name)
            if needed is None or (granted is not None and granted <= needed):
                continue
            root_scope = required_scope(_strawberry_extensions(field))
            if root_scope is not None and root_scope in needed:
                continue
            field.resolve = _checked(field, needed, f"{parent.name}.{name}")
            field.extensions = {**(field.extensions or {}), _READERS_KEY: needed}


def field_readers(field: GraphQLField) -> frozenset[Scope] | None:
    """The scopes of which a principal needs one to resolve ``field`` (its return type's),
    when ``guard_types`` checks it; else None."""
    readers: frozenset[Scope] | None = (field.extensions or {}).get(_READERS_KEY)
    return readers


def _strawberry_extensions(field: GraphQLField) -> list[FieldExtension]:
    definition = (field.extensions or {}).get("strawberry-definition")
    extensions: list[FieldExtension] = getattr(definition, "extensions", None) or []
    return extensions


def _checked(field: GraphQLField, needed: frozenset[Scope], coordinate: str) -> Callable[..., Any]:
    resolve = field.resolve
    assert resolve is not None, coordinate  # Strawberry gives every field a resolver
    type_name = named_type(field.type).name
    scopes = " or ".join(sorted(needed))
    message = f"{coordinate}: reading {type_name} needs the scope {scopes}"

    def checked(source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        if needed.isdisjoint(info.context.principal.scopes):
            raise DomainError(ErrorCode.FORBIDDEN, message)
        return resolve(source, info, **arguments)

    return checked
