"""MetaVOS visual words: method.py (the method), params.py (its settings)."""
