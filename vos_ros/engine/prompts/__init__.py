"""User prompts that become an object's first mask: a mask (mask.py), a box (box.py) or
clicks (points.py), the latter two through the learned prompt encoder when one is loaded
(encoded.py)."""
