"""Process composition: resolves where Postgres and Redis are (external or embedded), builds
the application context, and runs the processes (`up`, `api`, `worker`)."""
