"""Maxima of the plain (unpaginated) lists that writes enforce (issue 15, item 1).

The cost limit (graphql/cost.py) multiplies list sizes through a query, so every plain list
needs a known maximum; a list that grows without bound would make any limit either refuse
legitimate catalogue pages or admit answers of hundreds of megabytes. The values leave room
above real use (the bench's data: 10 events per offer, 3 dates per event, 1-2 content items
per event; a weekly course over a year has 52 sessions):

* ``MAX_DATES_PER_EVENT`` dates (sessions) per event, also per ``createOfferEvent`` call,
* ``MAX_CONTENT_LINKS_PER_EVENT`` content items linked to one event,
* ``MAX_EVENTS_PER_OFFER`` events per offer.

Beyond them a write is BAD_USER_INPUT naming the field. The events service counts under the
lock of the row the list hangs on (the event or the offer, locking.py), so concurrent writes
cannot pass the maximum together on PostgreSQL; SQLite's writers never overlap.
"""

import uuid

from offerdesk.errors import bad_input

MAX_DATES_PER_EVENT = 50
MAX_CONTENT_LINKS_PER_EVENT = 10
MAX_EVENTS_PER_OFFER = 50


def check_list_length(count: int, maximum: int, field: str, what: str) -> None:
    """BAD_USER_INPUT on ``field`` when ``count`` items are more than ``maximum``."""
    if count > maximum:
        raise bad_input(field, f"at most {maximum} {what}, got {count}")


def check_content_links(wanted: list[uuid.UUID], field: str) -> None:
    """The content items an event is to be linked to (primary first) are not too many."""
    check_list_length(len(wanted), MAX_CONTENT_LINKS_PER_EVENT, field, "content items per event")
