"""The audit log: who changed what, when, in which request."""
