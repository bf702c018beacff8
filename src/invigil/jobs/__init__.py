"""Background jobs on PostgreSQL itself (procrastinate): no extra broker."""
