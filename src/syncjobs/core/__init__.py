"""The job core: ledger, tracking, registry, context, scheduling and upkeep."""
