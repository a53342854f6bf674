"""devstack kind `echo` (see kind.py)."""
