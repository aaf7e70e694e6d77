"""How the GraphQL types of content/schema.py are read by compiled reads (graphql/compiler/)."""

from offerdesk.content.models import ContentItem
from offerdesk.graphql.compiler.declarations import TypeMap, column

MAPS = [
    TypeMap(
        "ContentItem",
        ContentItem,
        {
            "id": column("id"),
            "ref": column("ref"),
            "type": column("type"),
            "title": column("title"),
            "description": column("description"),
            "url": column("url"),
            "isActive": column("is_active"),
            "createdAt": column("created_at"),
            "updatedAt": column("updated_at"),
        },
    ),
]
