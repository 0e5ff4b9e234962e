"""Launch vos_node: `ros2 launch vos_ros segment.launch.py image:=/camera/color/image_raw`.

Arguments: namespace (vos), image / depth / camera_info topics, params_file (the package's
config/vos.yaml), device (auto|cuda|cpu), method (frtm|visual_words|matching|eosvos), use_depth,
log_level (debug|info|warn|error|fatal). The params file is loaded first; the
device/method/use_depth arguments override it.

Verified with launch 3.7.1 / launch_ros 0.28.0 (see docs/LAUNCH_CHECK.md): remappings,
parameter overrides, log level and shutdown on Ctrl-C. The node exits 0 on SIGINT/SIGTERM
however often launch and the terminal send them, and applies the package's Fast DDS profile
(config/fastdds_large_data.xml) unless FASTDDS_DEFAULT_PROFILES_FILE is set; a camera driver
started next to it needs the same profile (docs/ROS_NODE.md, "Transport").
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description() -> LaunchDescription:
    default_params = os.path.join(get_package_share_directory("vos_ros"), "config", "vos.yaml")
    args = [
        DeclareLaunchArgument("namespace", default_value="vos", description="node namespace"),
        DeclareLaunchArgument("image", default_value="/camera/color/image_raw",
                              description="colour image topic (sensor_msgs/Image)"),
        DeclareLaunchArgument("depth", default_value="/camera/aligned_depth_to_color/image_raw",
                              description="depth image aligned to the colour image (16UC1 mm or 32FC1 m)"),
        DeclareLaunchArgument("camera_info", default_value="/camera/color/camera_info",
                              description="camera_info of the colour image"),
        DeclareLaunchArgument("params_file", default_value=default_params,
                              description="YAML parameters file"),
        DeclareLaunchArgument("device", default_value="auto", description="auto | cuda | cpu"),
        DeclareLaunchArgument("method", default_value="frtm",
                              description="frtm | visual_words | matching | eosvos"),
        DeclareLaunchArgument("use_depth", default_value="false",
                              description="subscribe to depth + camera_info for 3D positions"),
        DeclareLaunchArgument("log_level", default_value="info", description="ROS log level"),
    ]
    node = Node(
        package="vos_ros",
        executable="vos_node",
        name="vos_node",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "device": LaunchConfiguration("device"),
                "method": LaunchConfiguration("method"),
                "use_depth": ParameterValue(LaunchConfiguration("use_depth"), value_type=bool),
            },
        ],
        remappings=[
            ("image", LaunchConfiguration("image")),
            ("depth", LaunchConfiguration("depth")),
            ("camera_info", LaunchConfiguration("camera_info")),
        ],
        ros_arguments=["--log-level", LaunchConfiguration("log_level")],
    )
    return LaunchDescription(args + [node])
