"""Backbones (frozen feature extractors), their inference rewrites and torchvision compat; Features."""
