"""Answering query operations with one compiled statement, in place of the executor.

A schema extension, after the response cache: a cache hit still answers first, and a
compiled answer is stored like any other. The statement's text becomes the answer's ``data``
as an ``orjson.Fragment``, so graphql/http.py writes it into the body without decoding it.

Anything the compiler cannot answer falls back, per operation, to the executor (the
reference, and the path of mutations but known enroll documents): logged at debug level
with the field or value that forced it, and counted in ``FALLBACKS``.

A mutation the executor answered without errors is remembered when its plan has a change
(``declarations.Write``): later requests of that document are carried out by
graphql/direct.py, when the setting ``compiled_writes`` is on.
"""

import logging
from collections import Counter
from collections.abc import AsyncIterator

import orjson
from graphql import ExecutionResult, OperationDefinitionNode, get_operation_ast
from graphql.execution.values import get_variable_values
from sqlalchemy.exc import SQLAlchemyError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from offerdesk.graphql.compiler.declarations import Fallback
from offerdesk.graphql.compiler.plan import Plan, Plans, Unsupported
from offerdesk.graphql.context import Context

log = logging.getLogger("offerdesk.compiled_reads")

# Fallbacks of this process by reason (the field or value that forced them).
FALLBACKS: Counter[str] = Counter()


def _fall_back(reason: str) -> None:
    FALLBACKS[reason] += 1
    log.debug("compiled reads fall back to the executor: %s", reason)


class CompiledReads(SchemaExtension):
    """Runs a query operation's plan and sets its JSON as the result, when the setting
    ``compiled_reads`` is on and the operation compiles."""

    def __init__(self, plans: Plans) -> None:
        self.plans = plans

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context: Context = execution.context
        if (
            execution.result is None
            and execution.operation_type is OperationType.QUERY
            and context.settings.compiled_reads
        ):
            data = await self._answer(context)
            if data is not None:
                execution.result = ExecutionResult(data=orjson.Fragment(data))  # type: ignore[arg-type]
        yield
        if (
            execution.operation_type is OperationType.MUTATION
            and context.settings.compiled_writes
            and execution.result is not None
            and not execution.result.errors
        ):
            self._remember_write(context)

    def _remember_write(self, context: Context) -> None:
        execution = self.execution_context
        document = execution.graphql_document
        operation = get_operation_ast(document, execution.operation_name) if document else None
        if document is None or execution.query is None or operation is None:
            return
        schema = execution.schema._schema
        variables = get_variable_values(
            schema, operation.variable_definitions or (), execution.variables or {}
        )
        if isinstance(variables, list):
            return
        plan = self.plans.get(
            schema, context.db.dialect, execution.query, document, operation, variables
        )
        if isinstance(plan, Plan) and plan.write is not None:
            self.plans.remember(schema, execution.query, document, operation)

    async def _answer(self, context: Context) -> str | None:
        execution = self.execution_context
        document = execution.graphql_document
        if document is None or execution.query is None:
            return None
        schema = execution.schema._schema
        operation = get_operation_ast(document, execution.operation_name)
        if not isinstance(operation, OperationDefinitionNode):
            return None
        variables = get_variable_values(
            schema, operation.variable_definitions or (), execution.variables or {}
        )
        if isinstance(variables, list):
            _fall_back("variables that do not coerce")
            return None
        plan = self.plans.get(
            schema, context.db.dialect, execution.query, document, operation, variables
        )
        if isinstance(plan, Unsupported):
            _fall_back(plan.reason)
            return None
        missing = plan.missing_scopes(context.principal.scopes)
        if missing:
            _fall_back(f"scope {', '.join(missing)} missing")
            return None
        try:
            parameters = plan.parameters(variables)
        except Fallback as exc:
            _fall_back(exc.reason)
            return None
        self.plans.remember(schema, execution.query, document, operation)
        async with context.read() as session:
            try:
                # Core execution on the session's connection: the statement has no ORM
                # entities, and the ORM's result handling cost a third of a Q1 request.
                connection = await session.connection()
                data = await connection.scalar(
                    plan.statement,
                    parameters,
                    execution_options={"compiled_cache": plan.compiled_cache},
                )
            except SQLAlchemyError:
                # The executor runs the request again and answers as it does today (a masked
                # error where the database fails it).
                log.warning("compiled read failed in request %s", context.request_id, exc_info=True)
                await session.rollback()
                _fall_back("database error")
                return None
        return str(data)
