"""PyAV (FFmpeg) loaded on its first real use instead of when aiortc is imported.

aiortc imports ``av`` at module level (its codecs, media streams, RTP sender and receiver),
which maps FFmpeg, libvpx and libopus into every relay process: about 24 MB that a relay
forwarding packets without decoding never touches. PyAV is needed only to transcode (the two
participants share no codec) and to record.

:func:`defer` installs an import hook, before aiortc is imported, that answers ``import av``
and ``import av.<sub>`` with stand-in modules. A name taken from a stand-in while a module is
being imported (``from av import AudioFrame`` at the top of aiortc's modules) is a stand-in
class; anything else counts as real use and loads the real PyAV first: calling a stand-in
(``CodecContext.create(...)``, ``AudioFrame(...)``), reading one of its attributes,
``isinstance`` against it, or reading a name from a stand-in module at run time
(``av.FFmpegError`` in an ``except`` clause). Loading (:func:`load`) imports the real modules,
then rebinds every module global that still holds a stand-in to the real object, so later use
costs nothing extra. Whatever is used first, the program sees PyAV's real behaviour; only the
moment FFmpeg is loaded moves.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
import types
from typing import Any

_PACKAGE = "av"
_lock = threading.RLock()
_finder: _DeferredFinder | None = None


def _is_av(name: str) -> bool:
    return name == _PACKAGE or name.startswith(_PACKAGE + ".")


def _resolve(dotted: str) -> Any:
    """The real object named ``dotted`` (``av.frame.Frame``), loading PyAV if needed."""
    load()
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            target = getattr(target, name)
        return target
    raise ImportError(f"cannot resolve {dotted}")


class _StandInType(type):
    """The metaclass of stand-in classes: every real use resolves the real object."""

    _dotted: str

    def _target(cls) -> Any:
        target = cls.__dict__.get("_resolved")
        if target is None:
            target = _resolve(cls._dotted)
            type.__setattr__(cls, "_resolved", target)
        return target

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._target()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):  # introspection, not use
            raise AttributeError(name)
        return getattr(cls._target(), name)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls._target())

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, cls._target())

    def __repr__(cls) -> str:
        return f"<deferred {cls._dotted}>"


def _stand_in(dotted: str) -> type:
    return _StandInType(dotted.rsplit(".", 1)[-1], (), {"_dotted": dotted})


def _importing_module(depth: int = 2) -> bool:
    """Whether the attribute access being served comes from module-level code (a module being
    imported) or from the import system's ``from ... import`` handling."""
    frame = sys._getframe(depth)
    code = frame.f_code
    return code.co_name == "<module>" or code.co_filename.startswith("<frozen importlib")


class _StandInModule(types.ModuleType):
    """``av`` or one of its submodules until PyAV is really loaded."""

    _real: types.ModuleType | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        dotted = f"{self.__name__}.{name}"
        if self._real is None and _importing_module():
            stand_in = _stand_in(dotted)
            setattr(self, name, stand_in)
            return stand_in
        return _resolve(dotted)


class _DeferredLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _StandInModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _DeferredFinder(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.loader = _DeferredLoader()

    def find_spec(
        self, fullname: str, path: Any = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not _is_av(fullname):
            return None
        return importlib.machinery.ModuleSpec(fullname, self.loader, is_package=True)


def defer() -> bool:
    """Answer imports of ``av`` with stand-ins until its first real use.

    Call before aiortc is imported. Returns False (and changes nothing) when PyAV is already
    imported; idempotent.
    """
    global _finder
    with _lock:
        if _finder is not None:
            return True
        if any(_is_av(name) for name in sys.modules):
            return False
        _finder = _DeferredFinder()
        sys.meta_path.insert(0, _finder)
        return True


def is_loaded() -> bool:
    """Whether the real PyAV is imported in this process."""
    module = sys.modules.get(_PACKAGE)
    return module is not None and not isinstance(module, _StandInModule)


def load() -> types.ModuleType:
    """Import the real PyAV (once) and put it everywhere a stand-in was bound."""
    global _finder
    with _lock:
        if _finder is None or is_loaded():
            return importlib.import_module(_PACKAGE)
        sys.meta_path.remove(_finder)
        stand_ins = {
            name: module
            for name, module in list(sys.modules.items())
            if isinstance(module, _StandInModule)
        }
        for name in stand_ins:
            del sys.modules[name]
        try:
            real = importlib.import_module(_PACKAGE)
            for name, stand_in in sorted(stand_ins.items()):
                stand_in._real = importlib.import_module(name)
        except BaseException:
            sys.modules.update(stand_ins)
            sys.meta_path.insert(0, _finder)
            raise
        _finder = None
        _rebind_globals()
        return real


def _rebind_globals() -> None:
    """Replace stand-ins held as module globals (``Frame``, ``av``) by the real objects."""
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for key, value in list(namespace.items()):
            if type(value) is _StandInModule and value._real is not None:
                namespace[key] = value._real
            elif type(value) is _StandInType:
                namespace[key] = value._target()
