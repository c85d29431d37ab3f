"""LeRobot v3.0 datasets: a durable writer, a reader, validation and tools.

Format reference: ``shared/reference/lerobot-dataset-v3.md``. Importing this package
does not import torch.

Example:
    >>> from lerobot_gym.dataset import LeRobotDatasetWriter, LeRobotDataset, DatasetMeta
"""

from lerobot_gym.dataset.meta import DatasetMeta
from lerobot_gym.dataset.reader import LeRobotDataset
from lerobot_gym.dataset.validate import Problem, validate
from lerobot_gym.dataset.video import VideoEncoding
from lerobot_gym.dataset.writer import LeRobotDatasetWriter

__all__ = [
    "DatasetMeta",
    "LeRobotDataset",
    "LeRobotDatasetWriter",
    "Problem",
    "VideoEncoding",
    "validate",
]
