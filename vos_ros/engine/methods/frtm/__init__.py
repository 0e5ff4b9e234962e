"""FRTM-VOS: method.py (the method), params.py (its settings), target_model.py (the model and
its GN/CG fits), memory.py (the sample memory), augmentation.py (first-frame samples),
refiner.py (the official refinement network, when its weights are given)."""
