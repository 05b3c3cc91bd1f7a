"""Review of held tracks, for the reviewers a backend names (backend.review)."""
