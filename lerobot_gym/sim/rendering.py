"""Offscreen renderers that close cleanly at interpreter exit.

Renderers still alive at exit must be closed before mujoco's EGL module terminates its display;
left to their ``__del__`` they print ``EGLError`` tracebacks during shutdown. ``atexit`` runs
handlers last-registered-first, so ours is registered when the first renderer is made, which is
after mujoco registered its own.
"""

from __future__ import annotations

import atexit
import weakref

import mujoco

_LIVE_RENDERERS: weakref.WeakSet[mujoco.Renderer] = weakref.WeakSet()
_atexit_registered = False


def _close_live_renderers() -> None:
    for renderer in list(_LIVE_RENDERERS):
        renderer.close()


def make_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    """A ``mujoco.Renderer`` that is closed at exit if its owner has not closed it."""
    global _atexit_registered
    renderer = mujoco.Renderer(model, height=height, width=width)
    if not _atexit_registered:
        atexit.register(_close_live_renderers)
        _atexit_registered = True
    _LIVE_RENDERERS.add(renderer)
    return renderer
