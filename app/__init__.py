"""The S4Net app: inference engine, tracking, effects, file commands, live session and window.
`from app import Segmenter` is the Python API (app/api.py)."""


def __getattr__(name):  # lazy, so `import app.x` does not load the engine
    if name == "Segmenter":
        from .api import Segmenter
        return Segmenter
    raise AttributeError(name)
