"""Demo data for a first look: a few offers with events, dates, content items and users."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.content import service as content
from offerdesk.content.models import ContentType
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
    for offer_index, (title, ref, item, event_titles) in enumerate(plans):
        offer = await offers.create(
            session, {"title": title, "ref": ref, "description": f"{title}, demo offer"}
        )
        for event_index, event_title in enumerate(event_titles):
            first = start + timedelta(weeks=4 * offer_index + event_index)
            await events.create(
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
    for name, email, ref in [
        ("Ada Lovelace", "ada@example.com", "u-ada"),
        ("Grace Hopper", "grace@example.com", "u-grace"),
        ("Alan Turing", "alan@example.com", "u-alan"),
        ("Edsger Dijkstra", "edsger@example.com", "u-edsger"),
    ]:
        await users.create(session, {"name": name, "email": email, "ref": ref})
    return True
