"""Webhooks: the community's events, signed and delivered to the URLs a manager registers.

``events`` records an event in the transaction of the change it tells of (the outbox), with a
delivery for each webhook that wants it; ``subscriptions`` keeps the webhooks and their
deliveries; ``dispatch`` delivers them, signed as Standard Webhooks are, retried with backoff,
in order for each webhook.
"""
