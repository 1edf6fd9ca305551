from runtime_api.commands import (  # noqa: F401
    basic,
    servers,
    sessions,  # noqa: F401
    stats,
    tls,  # noqa: F401
)

# isort: split
from runtime_api.commands import patterns, tables  # noqa: F401

# isort: split
from runtime_api.commands import (
    dynamic_servers,  # noqa: F401
    errors,  # noqa: F401
)

# isort: split
from runtime_api.commands import resolvers  # noqa: F401

# isort: split
from runtime_api.commands import events  # noqa: F401

# isort: split
from runtime_api.commands import cache  # noqa: F401
