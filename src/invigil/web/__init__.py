"""Server-rendered pages and the candidate player's static files."""
