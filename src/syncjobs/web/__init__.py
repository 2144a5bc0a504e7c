"""The operator's dashboard: an ASGI app a host mounts, or ``syncjobs dashboard`` serves."""
