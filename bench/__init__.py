"""Load benchmarks: the Accords API measured against the floor for its stack.

``python -m bench.run`` (or ``make bench``) seeds a throw-away PostgreSQL
database, starts ``accords serve`` and :mod:`bench.floor` side by side, and
drives both with wrk.
"""
