"""The object registry: which ids are tracked, their slots, the limit and the next free id.

Ids are integers in [1, MAX_OBJECT_ID]. The tracked ids are kept sorted; an object's slot is
its index in that order (label value slot + 1 in the engine's working label map). The
registry is the one place that decides whether an object may be added, for the session and
for front ends (the ROS node) that allocate ids.
"""
from __future__ import annotations

import numpy as np

MAX_OBJECT_ID = 65535


class ObjectRegistry:
    """Tracked object ids, at most `max_objects` of them."""

    def __init__(self, max_objects: int):
        self.max_objects = max_objects
        self._ids: list[int] = []

    @property
    def ids(self) -> list[int]:
        """Tracked ids, ascending (a copy)."""
        return list(self._ids)

    def __contains__(self, object_id: object) -> bool:
        return object_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def slot(self, object_id: int) -> int:
        """Index of `object_id` among the tracked ids; KeyError if unknown."""
        try:
            return self._ids.index(object_id)
        except ValueError:
            raise KeyError(self.unknown(object_id)) from None

    @staticmethod
    def check_id(object_id: object) -> int:
        """`object_id` as an int; ValueError unless it is an integer in [1, MAX_OBJECT_ID]."""
        if not isinstance(object_id, (int, np.integer)) \
                or not 1 <= int(object_id) <= MAX_OBJECT_ID:
            raise ValueError(f"object id must be an integer in [1, {MAX_OBJECT_ID}], got {object_id!r}")
        return int(object_id)

    def room_for(self, object_id: int) -> str | None:
        """None when `object_id` may be added now (it is tracked already, or there is room),
        else the reason."""
        if object_id in self._ids or len(self._ids) < self.max_objects:
            return None
        return f"already tracking the maximum of {self.max_objects} objects"

    def check_limit(self, max_objects: int) -> str | None:
        """None when the limit may become `max_objects` now, else the reason."""
        if max_objects < len(self._ids):
            return (f"max_objects {max_objects} is below the {len(self._ids)} objects tracked now; "
                    "remove some first")
        return None

    def next_free_id(self) -> int:
        """The smallest id not tracked."""
        object_id = 1
        while object_id in self._ids:
            object_id += 1
        return object_id

    def unknown(self, object_id: object) -> str:
        return f"unknown object id {object_id}; tracking {self._ids}"

    # changes (the session makes them; front ends read)
    def add(self, object_id: int) -> None:
        if object_id not in self._ids:
            self._ids.append(object_id)
            self._ids.sort()

    def remove(self, object_id: int) -> None:
        if object_id not in self._ids:
            raise KeyError(self.unknown(object_id))
        self._ids.remove(object_id)

    def clear(self) -> None:
        self._ids.clear()
