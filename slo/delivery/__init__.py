"""Delivery of alert notifications: the per-attempt ledger and what hangs off it.

- ``hooks``: the guard every receiver call passes through (leadership fence, the
  test-only crash points).
- ``ledger``: intent before each receiver call, outcome right after it, one small
  transaction each, so a restarted router can finish what was in flight.
- ``attempt``: one attempt for one (receiver, group): fence, intent, call, outcome.
- ``failing``: the ``QsreNotificationsFailing`` alert raised from failed deliveries.
- ``metrics``: ``qsre_notifications_total{receiver, outcome}``.
"""
