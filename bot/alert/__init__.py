"""Alerts: what the analyst is told, built from the outbox, delivered by a sink."""

from .outbox import Alert, AlertSink, deliver_queued, load_alert

__all__ = ["Alert", "AlertSink", "deliver_queued", "load_alert"]
