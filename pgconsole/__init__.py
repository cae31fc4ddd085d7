"""pgconsole: a PostgreSQL job queue, its terminal console and headless health checks."""

__version__ = "0.1.0"
