"""The HIL-SERL env stack from one config file (:mod:`.config`, :mod:`.stack`).

Importing this package imports no torch and no hardware SDK; building a stack loads what its
stages need.
"""

from lerobot_gym.hil.config import HilConfig, load_hil_config, update_hil_config
from lerobot_gym.hil.stack import make_hil_env

__all__ = ["HilConfig", "load_hil_config", "make_hil_env", "update_hil_config"]
