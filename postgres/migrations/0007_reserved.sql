-- Migration 7: reserved (core); a no-op, as in SQLite.
SELECT 1;
