"""Database: embedded server, roles, engines, the unit of work, migrations."""
