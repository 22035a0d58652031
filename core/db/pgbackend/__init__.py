"""Django's PostgreSQL backend, with persistent connections that survive a server restart."""
