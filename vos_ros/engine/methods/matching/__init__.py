"""VideoMatch soft matching: method.py (the method), params.py (its settings)."""
