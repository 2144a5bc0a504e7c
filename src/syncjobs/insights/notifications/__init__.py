"""Notifications: owners' in-app notifications, their deliveries, and notifiers' breakers."""
