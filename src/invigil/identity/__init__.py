"""Identity: staff accounts (completed by the identity issue: roles, tokens)."""
