"""Channel trust scores: per owner and channel, computed from the analyses."""
