"""The schema, assembled from the domain packages' query and mutation types."""

from dataclasses import dataclass
from functools import lru_cache

import strawberry
from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from offerdesk.config import Settings
from offerdesk.content.schema import ContentMutations, ContentQueries
from offerdesk.enrollments.schema import EnrollmentMutations, EnrollmentQueries
from offerdesk.events.schema import EventMutations, EventQueries
from offerdesk.graphql.cache import CachedQueries
from offerdesk.graphql.cost import DEFAULT_MAX_COST, CostLimit
from offerdesk.graphql.errors import ErrorPhases, NoSuggestions
from offerdesk.graphql.inputs import InputLimits
from offerdesk.graphql.limits import TokenLimit, limit_rules
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


@dataclass(frozen=True)
class SchemaOptions:
    introspection: bool = True
    suggestions: bool = True
    max_depth: int = 10
    max_aliases: int = 15
    max_directives: int = 50
    max_tokens: int = 1000
    max_cost: int = DEFAULT_MAX_COST

    @classmethod
    def from_settings(cls, settings: Settings) -> "SchemaOptions":
        return cls(
            introspection=settings.introspection_enabled,
            suggestions=settings.suggestions_enabled,
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
            max_directives=settings.max_directives,
            max_tokens=settings.max_tokens,
            max_cost=settings.max_query_cost,
        )


@lru_cache(maxsize=4)
def build_schema(options: SchemaOptions = SchemaOptions()) -> OfferdeskSchema:
    rules: list[type[ASTValidationRule]] = [
        *limit_rules(options.max_depth, options.max_aliases, options.max_directives)
    ]
    if not options.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list[object] = [
        ErrorPhases,
        # Before the parser cache, which parses in its own hook with these options.
        lambda: TokenLimit(options.max_tokens),
        lambda: ParserCache(maxsize=512),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=512),
        # Variables' shape and String arguments' lengths, before the cache or a resolver sees
        # them.
        InputLimits,
        lambda: CostLimit(options.max_cost),
        # Last: it may answer in place of execution, after everything else has judged the
        # request.
        CachedQueries,
    ]
    if not options.suggestions:
        extensions.append(NoSuggestions)
    return OfferdeskSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,  # type: ignore[arg-type]
        config=StrawberryConfig(scalar_map=SCALARS),
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
