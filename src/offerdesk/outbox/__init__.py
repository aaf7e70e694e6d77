"""The transactional outbox (issue 12): one row per change an integrator would want to know
of, written in the transaction of the change; read by the change feed and the webhook
dispatcher."""
