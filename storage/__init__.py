"""SQLite storage: the schema, its migrations, and small async functions per table."""

from storage.database import SCHEMA_VERSION, open_database, transaction

__all__ = ["SCHEMA_VERSION", "open_database", "transaction"]
