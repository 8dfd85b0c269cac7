"""Chain backends, deployment, typed contract clients and intents."""
