"""Tip alerts, the alert feed and the revenue dashboard."""
