"""HTTP API, settings and the consent command line."""
