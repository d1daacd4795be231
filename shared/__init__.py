"""Code that both the API and the worker run: models, events, settings, rules."""
