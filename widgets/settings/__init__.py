"""The Settings window (File > Settings): one page per group of studio.settings_schema."""
