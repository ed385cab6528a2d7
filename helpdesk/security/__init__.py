"""What keeps citizens' data and the services safe across every process: identifiers masked in
logs and texts (`masking`, `logmask`), the shared rate limits of lookups and logins
(`ratelimit`), and who may call an endpoint (`access`: bearer tokens, loopback callers)."""
