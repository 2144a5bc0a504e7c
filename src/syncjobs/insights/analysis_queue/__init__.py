"""The analysis queue: synced items waiting for a verdict, and the verdicts (analyses)."""
