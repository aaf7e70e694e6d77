"""Small pieces every domain schema uses: input handling and the bulk response."""

from typing import Any

import strawberry
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from offerdesk.bulk import BulkResult
from offerdesk.errors import bad_input
from offerdesk.graphql.context import Context
from offerdesk.graphql.scalars import to_id

AppInfo = Info[Context, None]


def provided(data: Any, prefix: str, non_null: tuple[str, ...] = ()) -> Any:
    """The fields a client actually sent: UNSET ones are "leave unchanged", null is a value.

    ``non_null`` names the fields optional in an input (so they can be left out) that have no
    null state: an explicit null there is refused rather than silently ignored.
    """
    changes = {key: value for key, value in vars(data).items() if value is not strawberry.UNSET}
    for key in non_null:
        if key in changes and changes[key] is None:
            field = f"{prefix}.{to_camel_case(key)}"
            raise bad_input(field, f"{field} must not be null; leave it out to keep it")
    return changes


@strawberry.type
class BulkResponse:
    succeeded_ids: list[strawberry.ID]
    failed_ids: list[strawberry.ID]

    @classmethod
    def of(cls, result: BulkResult) -> "BulkResponse":
        return cls(
            succeeded_ids=[to_id(id_) for id_ in result.succeeded],
            failed_ids=[to_id(id_) for id_ in result.failed],
        )
