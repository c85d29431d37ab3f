"""Offscreen renderers that close cleanly at interpreter exit.

Renderers still alive at exit must be closed before mujoco's EGL module terminates its display;
left to their ``__del__`` they print ``EGLError`` tracebacks during shutdown. ``atexit`` runs
handlers last-registered-first, so ours is registered when the first renderer is made, which is
after mujoco registered its own.

The renderer the env uses is :class:`lerobot_gym.sim.tiled.TiledRenderer` (all of a step's views
in one buffer); :func:`make_renderer` remains for single plain ``mujoco.Renderer`` uses.
"""

from __future__ import annotations

import atexit
import weakref
from typing import Protocol

import mujoco


class _Closable(Protocol):
    def close(self) -> None: ...


_LIVE_RENDERERS: weakref.WeakSet[_Closable] = weakref.WeakSet()
_atexit_registered = False


def _close_live_renderers() -> None:
    for renderer in list(_LIVE_RENDERERS):
        renderer.close()


def close_at_exit(renderer: _Closable) -> None:
    """Close ``renderer`` at interpreter exit if its owner has not (held weakly)."""
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(_close_live_renderers)
        _atexit_registered = True
    _LIVE_RENDERERS.add(renderer)


def make_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    """A ``mujoco.Renderer`` that is closed at exit if its owner has not closed it."""
    renderer = mujoco.Renderer(model, height=height, width=width)
    close_at_exit(renderer)
    return renderer
