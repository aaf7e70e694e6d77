"""Demo data for a first look: a few offers with events, dates, content items and users,
some enrollments, and a full event with a waiting list (README "First five minutes")."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.content import service as content
from offerdesk.content.models import ContentType
from offerdesk.enrollments import service as enrollments
from offerdesk.events import service as events
from offerdesk.offers import service as offers
from offerdesk.offers.models import Offer
from offerdesk.users import service as users


async def load_demo_data(session: AsyncSession) -> bool:
    """Fill an empty database; a database that already has offers is left alone."""
    if await session.scalar(select(func.count()).select_from(Offer)):
        return False
    training = await content.create(
        session,
        {"type": ContentType.TRAINING, "title": "Project management essentials", "ref": "c-pm"},
    )
    course = await content.create(
        session, {"type": ContentType.COURSE, "title": "Leading hybrid teams", "ref": "c-lead"}
    )
    video = await content.create(
        session,
        {"type": ContentType.VIDEO, "title": "Feedback in five minutes", "ref": "c-feedback"},
    )
    start = datetime(2027, 9, 6, 9, 0, tzinfo=UTC)
    plans = [
        ("Project management", "o-pm", training, ["Starting moment September", "Evening group"]),
        ("Leadership programme", "o-lead", course, ["Autumn cohort", "Spring cohort"]),
        ("Feedback skills", "o-feedback", video, ["Open session"]),
    ]
    offers_by_ref = {}
    events_by_ref = {}
    for offer_index, (title, ref, item, event_titles) in enumerate(plans):
        offer = await offers.create(
            session, {"title": title, "ref": ref, "description": f"{title}, demo offer"}
        )
        offers_by_ref[ref] = offer
        for event_index, event_title in enumerate(event_titles):
            first = start + timedelta(weeks=4 * offer_index + event_index)
            events_by_ref[f"{ref}-{event_index + 1}"] = await events.create(
                session,
                {
                    "offer_id": offer.id,
                    "title": event_title,
                    "ref": f"{ref}-{event_index + 1}",
                    "content_id": item.id,
                    "max_participants": 12,
                    "min_participants": 4,
                    "waiting_list": event_index == 0,
                    "closing_date": first - timedelta(days=7),
                },
                [
                    {
                        "start": first + timedelta(weeks=week),
                        "end": first + timedelta(weeks=week, hours=3),
                        "location": "Room 2.14",
                    }
                    for week in range(3)
                ],
            )
    people = []
    for name, email, ref in [
        ("Ada Lovelace", "ada@example.com", "u-ada"),
        ("Grace Hopper", "grace@example.com", "u-grace"),
        ("Alan Turing", "alan@example.com", "u-alan"),
        ("Edsger Dijkstra", "edsger@example.com", "u-edsger"),
    ]:
        people.append(await users.create(session, {"name": name, "email": email, "ref": ref}))
    # A small event that fills up, so the waiting list can be seen: two seats, four people,
    # the last two waiting in the order they came (cancel a seat and the first one moves up).
    first = start + timedelta(weeks=10)
    small = await events.create(
        session,
        {
            "offer_id": offers_by_ref["o-feedback"].id,
            "title": "Small group (full)",
            "ref": "o-feedback-small",
            "content_id": video.id,
            "max_participants": 2,
            "waiting_list": True,
            "closing_date": first - timedelta(days=7),
        },
        [{"start": first, "end": first + timedelta(hours=2), "location": "Room 1.02"}],
    )
    for person in people:
        await enrollments.enroll(
            session, enrollments.EnrollRequest(user_id=person.id, offer_event_id=small.id)
        )
    # And two enrollments in the first project-management event, which has seats left.
    pm_first = events_by_ref["o-pm-1"]
    for person in people[:2]:
        await enrollments.enroll(
            session, enrollments.EnrollRequest(user_id=person.id, offer_event_id=pm_first.id)
        )
    return True
