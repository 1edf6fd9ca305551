from runtime_api.commands import basic  # noqa: F401
