"""Run-time DNS resolution of server names (`resolvers` sections).

`wire` encodes queries and decodes answers (sans-IO); `client` sends them over
UDP with the section's retries and timeouts and hands results to the servers
that use a name (`resolvers <id>` on a `server` or `server-template` line).
"""
