"""Development servers: the embedded PostgreSQL and Redis that `make run` and `make test` start
when DATABASE_URL or REDIS_URL is unset. Not part of the runtime: production sets both URLs."""
