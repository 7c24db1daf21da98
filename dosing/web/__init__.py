"""The web service: the pharmacist's pages and the JSON API (``factordose serve``).

:func:`create_app` builds the FastAPI app on a shelf database; run it with
uvicorn (``factordose serve``) or test it through its ASGI interface.
"""

from dosing.web.app import create_app

__all__ = ["create_app"]
