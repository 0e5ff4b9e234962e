"""Learned parts trained by `vos-ros train`: the mask decoder and the prompt encoder."""
