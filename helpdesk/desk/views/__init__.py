"""The desk's pages, one module per area; each exposes a Sanic blueprint named `bp`."""
