"""``qsre_notifications_total{receiver, outcome}``: every receiver attempt, counted.

``outcome`` is ``sent`` or ``failed`` (a 4xx is failed); ``receiver`` is a configured
receiver name, so the label set is bounded by the config. Every (receiver, outcome)
starts at 0: a quiet receiver is a 0, not a missing series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from slo.delivery.attempt import OUTCOMES

NAME = "qsre_notifications"  # the counter family; samples are qsre_notifications_total
HELP = "Alert notification attempts by receiver and outcome (sent, failed)."


class NotificationMetrics:
    """A prometheus_client collector (``exporter.add_source(...)``) over live counts."""

    def __init__(
        self, receivers: Iterable[str], counts: Callable[[], Mapping[tuple[str, str], int]]
    ) -> None:
        self._receivers = tuple(sorted(set(receivers)))
        self._counts = counts

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        family = CounterMetricFamily(NAME, HELP, labels=["receiver", "outcome"])
        counts = self._counts()
        for receiver in self._receivers:
            for outcome in OUTCOMES:
                family.add_metric([receiver, outcome], counts.get((receiver, outcome), 0))
        yield family
