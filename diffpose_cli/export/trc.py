"""TRC export: the 3D joints as markers, the file OpenSim reads (Pose2Sim and Sports2D feed it
to OpenSim's scaling and inverse kinematics).

Tab-separated: a PathFileType line, the DataRate/CameraRate/NumFrames/NumMarkers/Units/
OrigDataRate/OrigDataStartFrame/OrigNumFrames header and its values, the marker names (one per
three columns), the X1 Y1 Z1 ... sub-header, a blank line, then one row per video frame: frame
number (from 1), time in seconds, then x y z of each marker. Metres, Y up (OpenSim's ground
frame), the package's world frame: floor at y = 0. The markers are the estimate's joints as
they are (no bone fixing or foot locking: OpenSim fits its own model to them). Frames without a
person have empty marker cells, which OpenSim reads as missing markers.
"""

from pathlib import Path

import numpy as np

from ..files import atomic_output

CHUNK = 1024   # frames formatted at a time


def write_trc(result, path) -> None:
    """Write the world joints of `result` as a TRC marker file to `path`, atomically."""
    joints = np.asarray(result.joints_world)
    F, names = joints.shape[0], list(result.joint_names)
    fps = float(result.video["fps"])
    header = [
        f"PathFileType\t4\t(X/Y/Z)\t{Path(path).name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{fps:.6g}\t{fps:.6g}\t{F}\t{len(names)}\tm\t{fps:.6g}\t1\t{F}",
        "Frame#\tTime\t" + "\t".join(f"{n}\t\t" for n in names).rstrip("\t"),
        "\t\t" + "\t".join(f"X{k}\tY{k}\tZ{k}" for k in range(1, len(names) + 1)),
        "",
    ]
    with atomic_output(path) as tmp, open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(header) + "\n")
        for lo in range(0, F, CHUNK):
            block = np.asarray(joints[lo:lo + CHUNK], dtype=np.float64)
            rows = []
            for i, frame in enumerate(block, start=lo):
                cells = ["" if not np.isfinite(v) else f"{v:.5f}" for v in frame.reshape(-1)]
                rows.append(f"{i + 1}\t{i / fps:.5f}\t" + "\t".join(cells))
            f.write("\n".join(rows) + "\n")
