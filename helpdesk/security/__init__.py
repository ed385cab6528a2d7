"""What keeps citizens' data and the services safe across every process: identifiers masked in
logs and texts (`masking`, `logmask`) and the shared rate limits of lookups and logins
(`ratelimit`)."""
