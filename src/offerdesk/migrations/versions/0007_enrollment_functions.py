"""enrollment functions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 23:10:00

PostgreSQL only: every enrollment change as one server-side function, so the event row is
locked for exactly one round trip (docs/decisions.md, "Enrollments in one round trip"). The
rules are SPEC §3.1 to 3.4; enrollments/sqlite_functions.py applies the same rules on
SQLite, and both are driven by the same state-machine and storm tests.

Outcomes come back as a text code; the service turns them into the API's errors. A function
that must not write when it refuses (a bulk call where one user fails) raises the private
SQLSTATE ``OD001`` inside a sub-block to undo its own writes, and reports the outcome.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One row describing what an enrollment call did. ``outcome`` is OK, EXISTING (an active
# enrollment returned unchanged) or the refusal's code; ``position`` is the 0-based place in
# a bulk call's input of the user it concerns; ``closing_date`` and ``max_participants`` are
# for the refusals' messages; ``detail`` lists unknown refs; ``causes`` are the causes of the
# status changes the call wrote (ENROLL, WAITLIST, PROMOTION, UNENROLL, DECLINE), for metrics.
RESULT_TYPE = """
CREATE TYPE offerdesk_enrollment_result AS (
    outcome text,
    position integer,
    id uuid,
    user_id uuid,
    offer_event_id uuid,
    status text,
    enrolled_at timestamptz,
    created_at timestamptz,
    updated_at timestamptz,
    closing_date timestamptz,
    max_participants integer,
    detail text,
    causes text[]
)
"""

# Fill every free spot from the waiting list, longest-waiting first (SPEC §3.4). The caller
# holds the event row lock. Free spots: null when unlimited, else max - enrolled, never < 0
# (the same expression as OfferEvent.spots_available).
PROMOTE = """
CREATE FUNCTION offerdesk_promote(p_event uuid, p_now timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_free integer;
    v_waiting integer;
    v_promoted integer;
BEGIN
    SELECT CASE WHEN max_participants IS NULL THEN NULL
                WHEN enrolled_count >= max_participants THEN 0
                ELSE max_participants - enrolled_count END,
           waitlisted_count
      INTO v_free, v_waiting
      FROM offer_events WHERE id = p_event;
    IF v_waiting = 0 OR v_free = 0 THEN
        RETURN 0;
    END IF;
    WITH chosen AS (
        SELECT id FROM enrollments
         WHERE offer_event_id = p_event AND status = 'WAITLISTED'
         ORDER BY waitlist_seq
         LIMIT v_free
    ), promoted AS (
        UPDATE enrollments e
           SET status = 'ENROLLED', waitlist_seq = NULL, updated_at = p_now
          FROM chosen WHERE e.id = chosen.id
        RETURNING e.id
    ), history AS (
        INSERT INTO enrollment_status_changes
               (enrollment_id, from_status, to_status, cause, send_mail, at)
        SELECT id, 'WAITLISTED', 'ENROLLED', 'PROMOTION', NULL, p_now FROM promoted
    )
    SELECT count(*) INTO v_promoted FROM promoted;
    UPDATE offer_events
       SET enrolled_count = enrolled_count + v_promoted,
           waitlisted_count = waitlisted_count - v_promoted
     WHERE id = p_event;
    RETURN v_promoted;
END $$
"""

# Enroll one user in an event whose row the caller has locked (SPEC §3.2, §3.3).
ENROLL_LOCKED = """
CREATE FUNCTION offerdesk_enroll_locked(
    p_event offer_events, p_user uuid, p_wanted text, p_send_mail boolean, p_now timestamptz
) RETURNS offerdesk_enrollment_result
LANGUAGE plpgsql AS $$
DECLARE
    r offerdesk_enrollment_result;
    v_offer_active boolean;
    v_offer_archived timestamptz;
    v_user_active boolean;
    v_existing enrollments;
    v_status text;
    v_seq integer;
BEGIN
    r.offer_event_id := p_event.id;
    r.closing_date := p_event.closing_date;
    r.max_participants := p_event.max_participants;
    SELECT is_active INTO v_user_active FROM users WHERE id = p_user;
    IF NOT FOUND THEN
        r.outcome := 'USER_NOT_FOUND';
        RETURN r;
    END IF;
    SELECT * INTO v_existing FROM enrollments
     WHERE user_id = p_user AND offer_event_id = p_event.id;
    IF FOUND AND v_existing.status IN ('ENROLLED', 'WAITLISTED') THEN
        r.outcome := 'EXISTING';
        r.id := v_existing.id; r.user_id := p_user; r.status := v_existing.status;
        r.enrolled_at := v_existing.enrolled_at; r.created_at := v_existing.created_at;
        r.updated_at := v_existing.updated_at;
        RETURN r;
    END IF;
    SELECT is_active, archived_at INTO v_offer_active, v_offer_archived
      FROM offers WHERE id = p_event.offer_id;
    IF NOT p_event.is_active OR NOT v_offer_active OR v_offer_archived IS NOT NULL THEN
        r.outcome := 'EVENT_INACTIVE';
        RETURN r;
    END IF;
    IF p_event.closing_date IS NOT NULL AND p_event.closing_date <= p_now THEN
        r.outcome := 'REGISTRATION_CLOSED';
        RETURN r;
    END IF;
    IF NOT v_user_active THEN
        r.outcome := 'USER_INACTIVE';
        RETURN r;
    END IF;
    v_status := NULL;
    IF p_wanted IS DISTINCT FROM 'WAITLISTED' THEN
        UPDATE offer_events SET enrolled_count = enrolled_count + 1
         WHERE id = p_event.id
           AND (max_participants IS NULL OR enrolled_count < max_participants)
           AND waitlisted_count = 0;
        IF FOUND THEN
            v_status := 'ENROLLED';
        ELSIF p_wanted = 'ENROLLED' OR NOT p_event.waiting_list THEN
            r.outcome := 'EVENT_FULL';
            RETURN r;
        END IF;
    END IF;
    IF v_status IS NULL THEN
        UPDATE offer_events
           SET waitlisted_count = waitlisted_count + 1, waitlist_seq = waitlist_seq + 1
         WHERE id = p_event.id
        RETURNING waitlist_seq INTO v_seq;
        v_status := 'WAITLISTED';
    END IF;
    IF v_existing.id IS NULL THEN
        INSERT INTO enrollments
               (id, user_id, offer_event_id, status, enrolled_at, waitlist_seq,
                created_at, updated_at)
        VALUES (gen_random_uuid(), p_user, p_event.id, v_status, p_now, v_seq, p_now, p_now)
        RETURNING * INTO v_existing;
        INSERT INTO enrollment_status_changes
               (enrollment_id, from_status, to_status, cause, send_mail, at)
        VALUES (v_existing.id, NULL, v_status,
                CASE v_status WHEN 'ENROLLED' THEN 'ENROLL' ELSE 'WAITLIST' END,
                p_send_mail, p_now);
    ELSE
        INSERT INTO enrollment_status_changes
               (enrollment_id, from_status, to_status, cause, send_mail, at)
        VALUES (v_existing.id, v_existing.status, v_status,
                CASE v_status WHEN 'ENROLLED' THEN 'ENROLL' ELSE 'WAITLIST' END,
                p_send_mail, p_now);
        UPDATE enrollments
           SET status = v_status, waitlist_seq = v_seq, enrolled_at = p_now, updated_at = p_now
         WHERE id = v_existing.id
        RETURNING * INTO v_existing;
    END IF;
    -- An explicit WAITLISTED request while a spot is free must not leave both at once.
    r.causes := ARRAY[CASE v_status WHEN 'ENROLLED' THEN 'ENROLL' ELSE 'WAITLIST' END]
        || array_fill('PROMOTION'::text, ARRAY[offerdesk_promote(p_event.id, p_now)]);
    SELECT * INTO v_existing FROM enrollments WHERE id = v_existing.id;
    r.outcome := 'OK';
    r.id := v_existing.id; r.user_id := p_user; r.status := v_existing.status;
    r.enrolled_at := v_existing.enrolled_at; r.created_at := v_existing.created_at;
    r.updated_at := v_existing.updated_at;
    RETURN r;
END $$
"""

# enrollUserInOfferEvent: lock the event, enroll.
ENROLL = """
CREATE FUNCTION offerdesk_enroll(
    p_event uuid, p_user uuid, p_wanted text, p_send_mail boolean, p_now timestamptz,
    p_lock boolean
) RETURNS offerdesk_enrollment_result
LANGUAGE plpgsql AS $$
DECLARE
    v_event offer_events;
    r offerdesk_enrollment_result;
BEGIN
    IF p_lock THEN
        SELECT * INTO v_event FROM offer_events WHERE id = p_event FOR UPDATE;
    ELSE
        SELECT * INTO v_event FROM offer_events WHERE id = p_event;
    END IF;
    IF NOT FOUND THEN
        r.outcome := 'EVENT_NOT_FOUND';
        RETURN r;
    END IF;
    RETURN offerdesk_enroll_locked(v_event, p_user, p_wanted, p_send_mail, p_now);
END $$
"""

# createOfferEventEnrollments: the event by id or ref, the users by ids or refs (deduplicated
# by the caller, positions given), all enrolled or none.
ENROLL_MANY = """
CREATE FUNCTION offerdesk_enroll_many(
    p_event uuid, p_event_ref text, p_users uuid[], p_user_refs text[], p_positions integer[],
    p_send_mail boolean, p_now timestamptz, p_lock boolean
) RETURNS SETOF offerdesk_enrollment_result
LANGUAGE plpgsql AS $$
DECLARE
    v_event offer_events;
    v_users uuid[];
    v_unknown text;
    r offerdesk_enrollment_result;
    v_done offerdesk_enrollment_result[] := '{}';
    v_failed offerdesk_enrollment_result;
    i integer;
BEGIN
    IF p_event IS NOT NULL THEN
        SELECT * INTO v_event FROM offer_events WHERE id = p_event;
    ELSE
        SELECT * INTO v_event FROM offer_events WHERE ref = p_event_ref;
    END IF;
    IF FOUND AND p_lock THEN
        SELECT * INTO v_event FROM offer_events WHERE id = v_event.id FOR UPDATE;
    END IF;
    IF NOT FOUND THEN
        r.outcome := 'EVENT_NOT_FOUND';
        RETURN NEXT r;
        RETURN;
    END IF;
    IF p_user_refs IS NOT NULL THEN
        SELECT string_agg(ref, ', ' ORDER BY ord) INTO v_unknown
          FROM unnest(p_user_refs) WITH ORDINALITY AS given(ref, ord)
         WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.ref = given.ref);
        IF v_unknown IS NOT NULL THEN
            r.outcome := 'UNKNOWN_REFS';
            r.detail := v_unknown;
            RETURN NEXT r;
            RETURN;
        END IF;
        SELECT array_agg(u.id ORDER BY given.ord) INTO v_users
          FROM unnest(p_user_refs) WITH ORDINALITY AS given(ref, ord)
          JOIN users u ON u.ref = given.ref;
    ELSE
        v_users := p_users;
    END IF;
    BEGIN
        FOR i IN 1 .. coalesce(array_length(v_users, 1), 0) LOOP
            r := offerdesk_enroll_locked(v_event, v_users[i], NULL, p_send_mail, p_now);
            r.position := p_positions[i];
            IF r.outcome NOT IN ('OK', 'EXISTING') THEN
                v_failed := r;
                RAISE EXCEPTION USING ERRCODE = 'OD001';
            END IF;
            v_done := v_done || r;
        END LOOP;
    EXCEPTION WHEN SQLSTATE 'OD001' THEN
        RETURN NEXT v_failed;
        RETURN;
    END;
    RETURN QUERY SELECT * FROM unnest(v_done);
END $$
"""

# A participant or the organiser ends an active enrollment; the place goes to the queue.
LEAVE = """
CREATE FUNCTION offerdesk_leave(
    p_enrollment enrollments, p_status text, p_cause text, p_now timestamptz
) RETURNS text[]
LANGUAGE plpgsql AS $$
BEGIN
    IF p_enrollment.status = 'ENROLLED' THEN
        UPDATE offer_events SET enrolled_count = enrolled_count - 1
         WHERE id = p_enrollment.offer_event_id;
    ELSE
        UPDATE offer_events SET waitlisted_count = waitlisted_count - 1
         WHERE id = p_enrollment.offer_event_id;
    END IF;
    UPDATE enrollments SET status = p_status, waitlist_seq = NULL, updated_at = p_now
     WHERE id = p_enrollment.id;
    INSERT INTO enrollment_status_changes
           (enrollment_id, from_status, to_status, cause, send_mail, at)
    VALUES (p_enrollment.id, p_enrollment.status, p_status, p_cause, NULL, p_now);
    RETURN ARRAY[p_cause] || array_fill(
        'PROMOTION'::text, ARRAY[offerdesk_promote(p_enrollment.offer_event_id, p_now)]
    );
END $$
"""

# unenrollUserFromOfferEvent: OK (withdrawing twice changes nothing), EVENT_NOT_FOUND or
# ENROLLMENT_NOT_FOUND.
UNENROLL = """
CREATE FUNCTION offerdesk_unenroll(
    p_event uuid, p_user uuid, p_now timestamptz, p_lock boolean
) RETURNS offerdesk_enrollment_result
LANGUAGE plpgsql AS $$
DECLARE
    v_enrollment enrollments;
    r offerdesk_enrollment_result;
BEGIN
    IF p_lock THEN
        PERFORM 1 FROM offer_events WHERE id = p_event FOR UPDATE;
    ELSE
        PERFORM 1 FROM offer_events WHERE id = p_event;
    END IF;
    IF NOT FOUND THEN
        r.outcome := 'EVENT_NOT_FOUND';
        RETURN r;
    END IF;
    SELECT * INTO v_enrollment FROM enrollments
     WHERE user_id = p_user AND offer_event_id = p_event;
    IF NOT FOUND THEN
        r.outcome := 'ENROLLMENT_NOT_FOUND';
        RETURN r;
    END IF;
    r.causes := '{}';
    IF v_enrollment.status IN ('ENROLLED', 'WAITLISTED') THEN
        r.causes := offerdesk_leave(v_enrollment, 'CANCELLED', 'UNENROLL', p_now);
    END IF;
    r.outcome := 'OK';
    RETURN r;
END $$
"""

# declineEnrollments: a row for each id that exists (the others are the caller's failedIds).
# Events are locked in ascending id order, so concurrent bulk calls cannot deadlock.
DECLINE = """
CREATE FUNCTION offerdesk_decline(p_ids uuid[], p_now timestamptz, p_lock boolean)
RETURNS SETOF offerdesk_enrollment_result
LANGUAGE plpgsql AS $$
DECLARE
    v_event uuid;
    v_id uuid;
    v_enrollment enrollments;
    r offerdesk_enrollment_result;
BEGIN
    FOR v_event IN
        SELECT DISTINCT offer_event_id FROM enrollments WHERE id = ANY(p_ids)
         ORDER BY offer_event_id
    LOOP
        IF p_lock THEN
            PERFORM 1 FROM offer_events WHERE id = v_event FOR UPDATE;
        END IF;
        FOR v_id IN
            SELECT id FROM enrollments WHERE id = ANY(p_ids) AND offer_event_id = v_event
             ORDER BY array_position(p_ids, id)
        LOOP
            -- Read now, not when the loop began: declining one may have promoted the next.
            SELECT * INTO v_enrollment FROM enrollments WHERE id = v_id;
            r := NULL;
            r.outcome := 'OK';
            r.id := v_enrollment.id;
            r.causes := '{}';
            IF v_enrollment.status IN ('ENROLLED', 'WAITLISTED') THEN
                r.causes := offerdesk_leave(v_enrollment, 'DECLINED', 'DECLINE', p_now);
            END IF;
            RETURN NEXT r;
        END LOOP;
    END LOOP;
END $$
"""

FUNCTIONS = (
    ("offerdesk_decline(uuid[], timestamptz, boolean)", DECLINE),
    ("offerdesk_unenroll(uuid, uuid, timestamptz, boolean)", UNENROLL),
    ("offerdesk_leave(enrollments, text, text, timestamptz)", LEAVE),
    (
        "offerdesk_enroll_many(uuid, text, uuid[], text[], integer[], boolean, timestamptz, "
        "boolean)",
        ENROLL_MANY,
    ),
    ("offerdesk_enroll(uuid, uuid, text, boolean, timestamptz, boolean)", ENROLL),
    (
        "offerdesk_enroll_locked(offer_events, uuid, text, boolean, timestamptz)",
        ENROLL_LOCKED,
    ),
    ("offerdesk_promote(uuid, timestamptz)", PROMOTE),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(RESULT_TYPE)
    for _, body in reversed(FUNCTIONS):
        op.execute(body)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for signature, _ in FUNCTIONS:
        op.execute(f"DROP FUNCTION {signature}")
    op.execute("DROP TYPE offerdesk_enrollment_result")
