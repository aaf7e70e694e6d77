"""A deliberately unprotected "count, then insert" enrollment, for the control test only.

It lives under tests/ and is served by its own app factory, so it is never reachable from
Offerdesk's API. If the storm cannot oversell through this path, the harness proves nothing.
"""

import uuid

from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from offerdesk.app import create_app as create_offerdesk_app
from offerdesk.enrollments.models import Enrollment, EnrollmentStatus
from offerdesk.events.models import OfferEvent


async def naive_enroll(request: Request) -> Response:
    body = await request.json()
    event_id, user_id = uuid.UUID(body["offerEventId"]), uuid.UUID(body["userId"])
    db = request.app.state.db
    async with db.read_session() as session:
        event = await session.get(OfferEvent, event_id)
        enrolled = await session.scalar(
            select(func.count()).where(
                Enrollment.offer_event_id == event_id,
                Enrollment.status == EnrollmentStatus.ENROLLED,
            )
        )
    if event.max_participants is not None and enrolled >= event.max_participants:
        return JSONResponse({"status": "FULL"})
    async with db.transaction() as session:
        session.add(
            Enrollment(user_id=user_id, offer_event_id=event_id, status=EnrollmentStatus.ENROLLED)
        )
    return JSONResponse({"status": "ENROLLED"})


def create_app() -> Starlette:
    app = create_offerdesk_app()
    app.router.routes.append(Route("/naive-enroll", naive_enroll, methods=["POST"]))
    return app
