"""The scripts the Makefile runs (`python scripts/<name>.py`), importable as `scripts.<name>`
where they share code: `scripts.run_plan` (the services' plan), `scripts.supervisor` (starting
and supervising them), `scripts.servers`, `scripts.rasa_server`."""
