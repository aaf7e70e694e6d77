"""The demo data (`offerdesk demo`, run by `make run`): enough to look at every part of the
service in the README's "First five minutes", the waiting list included."""

import re

from .helpers import Api
from .test_cli import offerdesk, succeeded

FULL_EVENT = """
{ offerEvent(ref: "o-feedback-small") {
    maxParticipants enrolledCount waitlistedCount spotsAvailable waitingList
    enrollments { edges { node { status waitlistPosition user { ref } } } } } }
"""


async def test_demo_has_enrollments_and_a_full_event_with_a_waiting_list(
    database_url: str, api: Api
) -> None:
    out = succeeded(await offerdesk(database_url, "demo"))
    token = re.search(r'"Authorization": "Bearer ([^"\s]+)"', out)
    assert token, out
    event = (await api(FULL_EVENT, token=token[1]))["data"]["offerEvent"]
    assert event["maxParticipants"] == event["enrolledCount"] == 2
    assert event["spotsAvailable"] == 0
    assert event["waitingList"] is True
    assert event["waitlistedCount"] == 2
    roster = [
        (edge["node"]["user"]["ref"], edge["node"]["status"], edge["node"]["waitlistPosition"])
        for edge in event["enrollments"]["edges"]
    ]
    assert sorted(roster, key=lambda row: (row[1], row[2] or 0)) == [
        ("u-ada", "ENROLLED", None),
        ("u-grace", "ENROLLED", None),
        ("u-alan", "WAITLISTED", 1),
        ("u-edsger", "WAITLISTED", 2),
    ]
    ada = (await api('{ user(ref: "u-ada") { id } }', token=token[1]))["data"]["user"]["id"]
    event_id = (await api('{ offerEvent(ref: "o-feedback-small") { id } }', token=token[1]))[
        "data"
    ]["offerEvent"]["id"]
    enrolled = await api('{ enrollments(userId: "%s") { status } }' % ada, token=token[1])
    assert [row["status"] for row in enrolled["data"]["enrollments"]] == ["ENROLLED", "ENROLLED"]

    # The README's next step: Ada cancels, and the first in line gets her seat.
    left = await api(
        'mutation { unenrollUserFromOfferEvent(userId: "%s", offerEventId: "%s") { success } }'
        % (ada, event_id),
        token=token[1],
    )
    assert left == {"data": {"unenrollUserFromOfferEvent": {"success": True}}}
    after = (await api(FULL_EVENT, token=token[1]))["data"]["offerEvent"]
    statuses = {
        edge["node"]["user"]["ref"]: (edge["node"]["status"], edge["node"]["waitlistPosition"])
        for edge in after["enrollments"]["edges"]
    }
    assert statuses["u-alan"] == ("ENROLLED", None)
    assert statuses["u-edsger"] == ("WAITLISTED", 1)
