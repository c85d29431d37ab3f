"""Policies: the :class:`Policy` protocol, policies by type name, and evaluation.

Learned policies (``act``, ``diffusion``) live in their own modules (torch), load with
:func:`load_policy` from any checkpoint folder (ours or LeRobot 0.4.4's) and register in
:data:`~lerobot_gym.policies.base.POLICY_TYPES`; importing this package imports no torch.
"""

from lerobot_gym.policies.base import (
    POLICY_TYPES,
    BasePolicy,
    BatchPolicy,
    LearnedPolicy,
    Policy,
    RandomPolicy,
    make_policy,
    register_policy,
)
from lerobot_gym.policies.checkpoint import load_policy
from lerobot_gym.policies.config import ACTConfig, DiffusionConfig, PolicyFeature
from lerobot_gym.policies.evaluate import (
    EpisodeResult,
    EvalResult,
    evaluate_policy,
    wilson_interval,
)

__all__ = [
    "POLICY_TYPES",
    "ACTConfig",
    "BasePolicy",
    "BatchPolicy",
    "DiffusionConfig",
    "EpisodeResult",
    "EvalResult",
    "LearnedPolicy",
    "Policy",
    "PolicyFeature",
    "RandomPolicy",
    "evaluate_policy",
    "load_policy",
    "make_policy",
    "register_policy",
    "wilson_interval",
]
