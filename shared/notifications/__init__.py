"""Notifications to people: subscriptions, the notification log, email rendering."""
