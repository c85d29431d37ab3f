"""The ``lerobot-gym`` command line: the only part of lerobot_gym that prints, prompts or exits.

See :mod:`lerobot_gym.cli.main` for the command table and :mod:`lerobot_gym.cli.args` for the
``--group.key=value`` flags every command takes.
"""
