"""The Review page (studio.review)."""
