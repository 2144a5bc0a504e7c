"""Connected accounts: their store, credentials and synced items."""
