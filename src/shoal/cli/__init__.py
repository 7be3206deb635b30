"""The `shoal` command line.

`remote/` holds the commands that talk to a Shoal server over its REST API (the only way the
CLI reads or changes campaigns); `local/` holds the commands that run or administer a server
on this machine (`up`, `api`, `worker`, `db`, `admin`, `sim`).
"""
