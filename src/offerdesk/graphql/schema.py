"""The schema, assembled from the domain packages' query and mutation types."""

from dataclasses import dataclass
from functools import lru_cache

import strawberry
from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from offerdesk.config import Settings
from offerdesk.content.graphql_map import MAPS as CONTENT_MAPS
from offerdesk.content.schema import ContentMutations, ContentQueries
from offerdesk.enrollments.graphql_map import MAPS as ENROLLMENT_MAPS
from offerdesk.enrollments.schema import EnrollmentMutations, EnrollmentQueries
from offerdesk.events.graphql_map import MAPS as EVENT_MAPS
from offerdesk.events.schema import EventMutations, EventQueries
from offerdesk.graphql.cache import CachedQueries
from offerdesk.graphql.compiler.declarations import merge
from offerdesk.graphql.compiler.extension import CompiledReads
from offerdesk.graphql.compiler.plan import Plans
from offerdesk.graphql.cost import CostLimit
from offerdesk.graphql.direct import DirectReads
from offerdesk.graphql.documents import CachedDocuments, DocumentCache
from offerdesk.graphql.errors import ErrorPhases, FirstDirectiveError, NoSuggestions
from offerdesk.graphql.inputs import InputLimits
from offerdesk.graphql.limits import TokenLimit, limit_rules
from offerdesk.graphql.operations import OperationChoice
from offerdesk.graphql.permissions import guard_types
from offerdesk.graphql.scalars import SCALARS
from offerdesk.metrics import RequestMetrics
from offerdesk.offers.graphql_map import MAPS as OFFER_MAPS
from offerdesk.offers.schema import OfferMutations, OfferQueries
from offerdesk.outbox.schema import OutboxQueries
from offerdesk.users.graphql_map import MAPS as USER_MAPS
from offerdesk.users.schema import UserMutations, UserQueries
from offerdesk.webhooks.schema import WebhookMutations, WebhookQueries

Query = merge_types(
    "Query",
    (
        OfferQueries,
        EventQueries,
        EnrollmentQueries,
        ContentQueries,
        UserQueries,
        OutboxQueries,
        WebhookQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        OfferMutations,
        EventMutations,
        EnrollmentMutations,
        ContentMutations,
        UserMutations,
        WebhookMutations,
    ),
)

# How each domain's types are read by compiled reads (<domain>/graphql_map.py).
TYPE_MAPS = merge(OFFER_MAPS, EVENT_MAPS, CONTENT_MAPS, USER_MAPS, ENROLLMENT_MAPS)


class OfferdeskSchema(strawberry.Schema):
    # The compiled reads' plans (graphql/compiler/plan.py), the parsed and validated documents
    # (graphql/documents.py), one cache of each per schema, and the path that answers known
    # compiled operations in one statement (graphql/direct.py).
    plans: Plans
    documents: DocumentCache
    direct: DirectReads

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Errors are logged once, where they are formatted (graphql/errors.py), with the
        request id; expected refusals are not logged at all."""


@dataclass(frozen=True)
class SchemaOptions:
    """What a schema is built with; the defaults are those of ``Settings`` (config.py)."""

    introspection: bool
    suggestions: bool
    max_depth: int
    max_aliases: int
    max_directives: int
    max_tokens: int
    max_cost: int
    document_cache_bytes: int
    plan_cache_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "SchemaOptions":
        """The options ``settings`` ask for; without settings, the defaults of the
        development profile (the environment is not read)."""
        settings = settings or Settings.model_construct()
        return cls(
            introspection=settings.introspection_enabled,
            suggestions=settings.suggestions_enabled,
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
            max_directives=settings.max_directives,
            max_tokens=settings.max_tokens,
            max_cost=settings.max_query_cost,
            document_cache_bytes=settings.document_cache_mb * 1024 * 1024,
            plan_cache_bytes=settings.plan_cache_mb * 1024 * 1024,
        )


@lru_cache(maxsize=4)
def build_schema(options: SchemaOptions | None = None) -> OfferdeskSchema:
    """The schema with ``options`` (default: ``SchemaOptions.from_settings()``)."""
    options = options or SchemaOptions.from_settings()
    rules: list[type[ASTValidationRule]] = [
        *limit_rules(options.max_depth, options.max_aliases, options.max_directives)
    ]
    if not options.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    # Both bounded in bytes (graphql/lru.py), as the response cache is (docs/decisions.md).
    documents = DocumentCache(options.document_cache_bytes)
    plans = Plans(TYPE_MAPS, options.plan_cache_bytes)
    extensions: list[object] = [
        ErrorPhases,
        RequestMetrics,
        # Before the document cache, which parses in its own hook with these options.
        lambda: TokenLimit(options.max_tokens),
        OperationChoice,
        lambda: AddValidationRules(rules),
        # After the rules are added: it validates with them.
        lambda: CachedDocuments(documents),
        FirstDirectiveError,
        # Variables' shape and String arguments' lengths, before the cache or a resolver sees
        # them.
        lambda: InputLimits(documents),
        lambda: CostLimit(options.max_cost),
        # Last: they may answer in place of execution, after everything else has judged the
        # request; a cached answer first, then a compiled one (stored by the cache).
        CachedQueries,
        lambda: CompiledReads(plans),
    ]
    if not options.suggestions:
        extensions.append(NoSuggestions)
    schema = OfferdeskSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,  # type: ignore[arg-type]
        config=StrawberryConfig(scalar_map=SCALARS),
    )
    schema.plans = plans
    schema.documents = documents
    schema.direct = DirectReads(
        schema._schema, plans, documents, options.max_tokens, options.max_cost
    )
    # A type's data needs its scope wherever the type is reached (graphql/permissions.py).
    guard_types(schema._schema)
    return schema


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
