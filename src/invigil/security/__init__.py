"""Passwords, tokens, permissions, guest links, crypto."""
