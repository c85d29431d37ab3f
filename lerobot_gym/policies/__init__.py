"""Policies: the :class:`Policy` protocol, policies by type name, and evaluation.

Learned policies (``act``, ``diffusion``, ``sac``) live in their own modules and register in
:data:`~lerobot_gym.policies.base.POLICY_TYPES`; importing this package imports no torch.
"""

from lerobot_gym.policies.base import (
    POLICY_TYPES,
    BasePolicy,
    Policy,
    RandomPolicy,
    make_policy,
    register_policy,
)
from lerobot_gym.policies.evaluate import EpisodeResult, EvalResult, evaluate_policy

__all__ = [
    "POLICY_TYPES",
    "BasePolicy",
    "EpisodeResult",
    "EvalResult",
    "Policy",
    "RandomPolicy",
    "evaluate_policy",
    "make_policy",
    "register_policy",
]
