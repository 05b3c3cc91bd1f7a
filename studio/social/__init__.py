"""The backend client: sign-in, chat, stream announcements."""
