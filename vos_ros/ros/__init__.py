"""ROS 2 front end of vos_ros: the `vos_node` node and its helpers.

`node.VOSNode` / `node.main` need rclpy: `node` wires the parts together (parameters,
subscriptions, the mailbox, `main`), `worker` segments and publishes, `services` answers
init_object / remove_object / reset, `diagnostics` counts and reports; `messages` builds
the output messages (also for bags), `shutdown` handles SIGINT/SIGTERM, `transport` sets
up Fast DDS for camera-sized images. `image_conversions`, `frame_buffer` and `depth` need
only numpy/OpenCV and the generated message classes, so tools can use them without a
running ROS graph. Submodules are imported lazily (importing `vos_ros.ros` does not
import rclpy).
"""
__all__ = ["depth", "diagnostics", "frame_buffer", "image_conversions", "messages", "node", "parameters",
           "services", "shutdown", "transport", "worker"]
