"""Candidate delivery: candidates, invitations, guest links, the mail outbox."""
