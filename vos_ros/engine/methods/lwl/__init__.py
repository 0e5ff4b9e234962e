"""LWL (Learning What to Learn, Bhat et al. ECCV 2020): a target module fitted by a learned few-shot learner."""
