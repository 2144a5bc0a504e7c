"""Usage: what analyses and provider calls cost, rolled up per hour, day, week and month."""
