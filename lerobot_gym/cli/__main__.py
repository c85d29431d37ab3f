"""``python -m lerobot_gym.cli``: the same as the ``lerobot-gym`` console script."""

import sys

from lerobot_gym.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
