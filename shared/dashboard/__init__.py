"""View models of the dashboard (SPEC section 13), composed from the domain services."""
