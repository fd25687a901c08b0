"""The daemons' contract from outside, as a user or an attacker: HTTP, SSE, keeper, metrics, credentials, probes."""
