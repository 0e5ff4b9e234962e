"""User prompts that become an object's first mask: a mask (mask.py) or a box (box.py)."""
