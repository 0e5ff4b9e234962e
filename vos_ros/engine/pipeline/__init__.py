"""Generic stages of one frame after the method: upsample, aggregation, clean-up, label upscale, results."""
