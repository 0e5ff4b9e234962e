"""Offline evaluation: DAVIS metrics (`metrics`) and the DAVIS folder layout (`davis`).

Pure numpy/OpenCV; no ROS and no torch.
"""
