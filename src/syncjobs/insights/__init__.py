"""The extras: analysis, trust scores, usage, digests and notifications, built on the job core."""
