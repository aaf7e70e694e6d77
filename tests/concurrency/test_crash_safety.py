"""A server process killed with SIGKILL in the middle of an enrollment storm (issue 11).

PostgreSQL: two ``offerdesk serve`` processes, one killed while the storm runs; the requests
that did not get an answer are sent again to the survivor. SQLite: the one process killed and
a new one started on the same file, which answers the retries. Afterwards, checked in SQL:
every enrollment whose success reached a client exists (nothing acknowledged is lost), every
event's counters equal its rows, no event is over capacity, and nobody waits beside a free
seat (SPEC §3.1 to 3.4). Retried requests are enrollments again, so they must be idempotent.
"""

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from offerdesk.db import Database
from offerdesk.enrollments.models import Enrollment, EnrollmentStatus
from offerdesk.events.models import OfferEvent

from ..conftest import make_token
from ..test_enrollments import make_event, make_users
from .servers import server_processes, servers
from .test_capacity_storm import enroll_body

CAPACITY = 25
USERS = 300
# The kill comes once this many answers have arrived: mid-storm, with requests in flight.
KILL_AFTER = 60


async def _storm_with_a_kill(
    targets: list[str], token: str, bodies: list[dict[str, Any]], kill: Any
) -> list[dict[str, Any] | None]:
    """POST every body at once (round-robin over ``targets``); call ``kill()`` once
    ``KILL_AFTER`` answers have come. A request whose connection died answers None."""
    answered = 0
    killed = asyncio.Event()
    limits = httpx.Limits(max_connections=len(bodies))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:

        async def one(index: int, body: dict[str, Any]) -> dict[str, Any] | None:
            nonlocal answered
            try:
                response = await client.post(f"{targets[index % len(targets)]}/graphql", json=body)
            except httpx.TransportError:
                return None
            answered += 1
            if answered >= KILL_AFTER and not killed.is_set():
                killed.set()
                kill()
            answer: dict[str, Any] = response.json()
            return answer

        return list(await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies))))


async def _check_nothing_lost(db: Database, event: str, acknowledged: dict[str, str]) -> None:
    async with db.read_session() as session:
        row = (
            await session.execute(select(OfferEvent).where(OfferEvent.id == uuid.UUID(event)))
        ).scalar_one()
        counts = dict(
            (
                await session.execute(
                    select(Enrollment.status, func.count())
                    .where(Enrollment.offer_event_id == row.id)
                    .group_by(Enrollment.status)
                )
            ).all()
        )
        stored = dict(
            (
                await session.execute(
                    select(Enrollment.user_id, Enrollment.id).where(
                        Enrollment.offer_event_id == row.id
                    )
                )
            ).all()
        )
    enrolled = counts.get(EnrollmentStatus.ENROLLED, 0)
    waiting = counts.get(EnrollmentStatus.WAITLISTED, 0)
    assert (row.enrolled_count, row.waitlisted_count) == (enrolled, waiting)
    assert enrolled <= CAPACITY
    assert not (enrolled < CAPACITY and waiting > 0), (enrolled, waiting)
    lost = {
        user: id_ for user, id_ in acknowledged.items() if str(stored.get(uuid.UUID(user))) != id_
    }
    assert lost == {}, f"{len(lost)} acknowledged enrollments are missing or changed"
    # Every user was finally enrolled or waiting: the retries went through.
    assert enrolled + waiting == USERS


def _acknowledged(bodies: list[dict[str, Any]], answers: list[Any]) -> dict[str, str]:
    found = {}
    for body, answer in zip(bodies, answers, strict=True):
        if answer and "errors" not in answer:
            enrollment = answer["data"]["enrollUserInOfferEvent"]["enrollment"]
            found[body["variables"]["userId"]] = enrollment["id"]
    return found


async def test_a_server_killed_mid_storm_loses_no_acknowledged_enrollment(
    db: Database, database_url: str
) -> None:
    event = await make_event(db, capacity=CAPACITY, waiting_list=True)
    users = await make_users(db, USERS)
    token = await make_token(db)
    bodies = [enroll_body(user, event) for user in users]
    count = 2 if db.dialect == "postgresql" else 1
    with server_processes(database_url, count) as started:
        victim = started[0][1]
        answers = await _storm_with_a_kill([url for url, _ in started], token, bodies, victim.kill)
        victim.wait(timeout=10)
        assert victim.returncode != 0, "the server was not killed"
        unanswered = [body for body, answer in zip(bodies, answers, strict=True) if not answer]
        assert unanswered, "the kill came after every answer: it proved nothing"
        survivors = [url for url, process in started if process.poll() is None]
        acknowledged = _acknowledged(bodies, answers)
        if survivors:
            retried = await _storm_with_a_kill(survivors, token, unanswered, lambda: None)
        else:
            # SQLite: the only process is gone; a new one takes over the same file.
            with servers(database_url, 1) as restarted:
                retried = await _storm_with_a_kill(restarted, token, unanswered, lambda: None)
    assert all(answer and "errors" not in answer for answer in retried), retried[:3]
    await _check_nothing_lost(db, event, acknowledged)
    print(
        f"\n[{db.dialect}] killed mid-storm: {len(acknowledged)} acknowledged before the kill, "
        f"{len(unanswered)} retried; nothing lost"
    )
