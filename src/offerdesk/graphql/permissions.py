"""Scope checks on root fields: every query and mutation field names the scope it needs."""

from typing import Any

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
