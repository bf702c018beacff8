"""AI features, metered: calls to an OpenAI-compatible provider, off unless
configured and opted into, each one recorded once with its charge."""
