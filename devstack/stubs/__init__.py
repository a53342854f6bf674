"""Stand-in servers devstack runs as native processes (`python -m devstack.stubs.<name>`)."""
