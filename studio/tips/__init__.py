"""Get tipped: the tip watcher and store, alerts (tray, sound, overlay) and revenue."""
