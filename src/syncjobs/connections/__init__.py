"""Connected accounts: their store, credentials, synced items, and their sync."""
