"""The object registry: ids, slots, the limit and the next free id."""
import numpy as np
import pytest

from vos_ros.engine.objects import MAX_OBJECT_ID, ObjectRegistry


def test_ids_sorted_slots_and_next_free_id():
    reg = ObjectRegistry(max_objects=3)
    assert reg.next_free_id() == 1 and len(reg) == 0
    for object_id in (5, 1, 5):  # re-adding an id is a re-initialisation, not a new object
        reg.add(object_id)
    assert reg.ids == [1, 5] and reg.slot(5) == 1 and 5 in reg
    assert reg.next_free_id() == 2
    reg.remove(1)
    assert reg.ids == [5] and reg.slot(5) == 0 and reg.next_free_id() == 1
    with pytest.raises(KeyError, match="unknown object id 1"):
        reg.remove(1)
    with pytest.raises(KeyError):
        reg.slot(7)
    reg.clear()
    assert reg.ids == []


def test_limit_and_id_checks():
    reg = ObjectRegistry(max_objects=2)
    reg.add(1)
    reg.add(2)
    assert reg.room_for(3) == "already tracking the maximum of 2 objects"
    assert reg.room_for(2) is None  # tracked: re-initialising needs no room
    assert reg.check_limit(1) is not None and reg.check_limit(2) is None
    assert ObjectRegistry.check_id(np.int64(3)) == 3
    for bad in (0, MAX_OBJECT_ID + 1, 1.5, "1"):
        with pytest.raises(ValueError, match="object id must be an integer"):
            ObjectRegistry.check_id(bad)
