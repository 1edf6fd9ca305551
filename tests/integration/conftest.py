"""Fixtures for the integration tests; the helpers live in `itest`.

Test modules import helpers from `itest`, not from `conftest`: with two
`conftest.py` files in the tree (compat and integration), importing
`conftest` by name would pick whichever was loaded first.
"""

from itest import backend, lb  # noqa: F401  (fixtures)
