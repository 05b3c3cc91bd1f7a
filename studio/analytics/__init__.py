"""Analytics: the artist's plays, viewers, followers and income from the backend."""
