"""The scripts the Makefile runs (`python scripts/<name>.py`), importable as `scripts.<name>`
where they share code: `scripts.run` (the services' plan), `scripts.servers`,
`scripts.rasa_server`."""
