"""pytest plugin (entry point `devstack`): fixtures on top of a running stack.

Loaded in every pytest run of a project that installs devstack, so it must
import nothing heavy at module level.
"""

from __future__ import annotations
