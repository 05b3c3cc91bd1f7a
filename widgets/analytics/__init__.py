"""The Analytics tab (studio.analytics)."""
