"""Relay connections (SPEC §2.6), one generic shape for every list that grows without bound."""

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from offerdesk.graphql.common import AppInfo
from offerdesk.pagination import Page

N = TypeVar("N")
M = TypeVar("M")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    node: N
    cursor: str


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo
    page: strawberry.Private[Page[Any]]

    @strawberry.field
    async def count(self, info: AppInfo) -> int:
        async with info.context.read() as session:
            return await self.page.count(session)

    @classmethod
    def of(cls, page: Page[M], to_node: Callable[[M], N]) -> "Connection[N]":
        return cls(
            edges=[Edge(node=to_node(item), cursor=cursor) for item, cursor in page.items],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            page=page,
        )
