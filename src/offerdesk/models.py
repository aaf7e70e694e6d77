"""Every model, imported once so the metadata is complete (migrations, tests)."""


def import_all() -> None:
    import offerdesk.auth.models
    import offerdesk.content.models
    import offerdesk.enrollments.models
    import offerdesk.events.models
    import offerdesk.idempotency
    import offerdesk.offers.models
    import offerdesk.outbox.models
    import offerdesk.ratelimit
    import offerdesk.users.models
    import offerdesk.webhooks.models  # noqa: F401
