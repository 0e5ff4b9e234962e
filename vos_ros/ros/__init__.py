"""ROS 2 front end of vos_ros: the `vos_node` node and its helpers.

`node.VOSNode` / `node.main` need rclpy; `image_conversions`, `frame_buffer` and `depth`
need only numpy/OpenCV and the generated message classes, so tools can use them without
a running ROS graph. Submodules are imported lazily (importing `vos_ros.ros` does not
import rclpy).
"""
__all__ = ["depth", "frame_buffer", "image_conversions", "node", "parameters"]
