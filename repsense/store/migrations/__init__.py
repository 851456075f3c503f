"""Alembic migrations of the history store, run by ``Store`` when it opens a database."""
