"""On PYTHONPATH only when scripts/device_check.sh found no cv2.ximgproc: supplies it."""
import cv2

if not hasattr(cv2, "ximgproc"):
    import ximgproc_shim

    cv2.ximgproc = ximgproc_shim
