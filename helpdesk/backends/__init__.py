"""Backend services the assistant calls: HTTP clients, their typed results and errors, and the
simulator that implements `docs/backend-api.yaml` from a fixtures file."""
