"""The schema, assembled from the domain packages' query and mutation types."""

from functools import lru_cache

import strawberry
from graphql import GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from offerdesk.content.schema import ContentMutations, ContentQueries
from offerdesk.enrollments.schema import EnrollmentMutations, EnrollmentQueries
from offerdesk.events.schema import EventMutations, EventQueries
from offerdesk.graphql.errors import ErrorPhases
from offerdesk.graphql.scalars import SCALARS
from offerdesk.offers.schema import OfferMutations, OfferQueries
from offerdesk.users.schema import UserMutations, UserQueries

Query = merge_types(
    "Query", (OfferQueries, EventQueries, EnrollmentQueries, ContentQueries, UserQueries)
)
Mutation = merge_types(
    "Mutation",
    (OfferMutations, EventMutations, EnrollmentMutations, ContentMutations, UserMutations),
)


class OfferdeskSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Errors are logged once, where they are formatted (graphql/errors.py), with the
        request id; expected refusals are not logged at all."""


@lru_cache(maxsize=2)
def build_schema(introspection: bool = True) -> OfferdeskSchema:
    extensions: list[object] = [
        ErrorPhases,
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
    ]
    if not introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return OfferdeskSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,  # type: ignore[arg-type]
        config=StrawberryConfig(scalar_map=SCALARS),
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
