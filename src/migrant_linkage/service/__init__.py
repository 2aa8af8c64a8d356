"""The master index as a service: a FastAPI app with the JSON API (api.py), the reviewer's
screens (web.py), accounts and credentials (auth.py) and the server's ownership of the index
(state.py). Start it with `migrant-linkage serve --index FILE`; see docs/service.md.

Needs the `service` extra: pip install 'migrant-linkage[service]'.
"""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(*args, **kwargs):
    from migrant_linkage.service.app import create_app as build

    return build(*args, **kwargs)
