"""Webhooks (issue 12): subscriptions, the delivery log, and the dispatcher that fans outbox
events out to subscriptions and delivers them as Standard-Webhooks-signed POSTs."""
