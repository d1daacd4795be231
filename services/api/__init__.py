"""The HTTP edge of Accords: a FastAPI app grouped by resource."""
