"""Compatibility import path: the session lives in `vos_ros.engine.session`."""
from .session import MAX_OBJECT_ID, Segmenter, StageTimer

__all__ = ["MAX_OBJECT_ID", "Segmenter", "StageTimer"]
