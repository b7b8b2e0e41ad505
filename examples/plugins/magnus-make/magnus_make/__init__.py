"""magnus-make: an example magnus-render plugin (a Makefile target and a local executor).

It imports only from :mod:`magnus_render.plugin`, the API magnus-render keeps stable for
plugins; see docs/extending.md in magnus-render.
"""

__version__ = "0.1.0"
