"""Train ACT or Diffusion Policy on a LeRobot dataset, with checkpoints, logs and a loss plot.

``lerobot-gym train --policy.type=act|diffusion --dataset.root=DIR --output_dir=OUT
--steps=N --batch_size=B --save_freq=K --seed=S --policy.device=cpu|cuda|auto`` (LeRobot's flag
names). Other ``--policy.<field>=value`` set the policy's config fields by LeRobot's names
(``--policy.chunk_size=20 --policy.dim_model=128``). ``--resume=true`` continues the run in
``--output_dir`` from its last checkpoint. With ``--env.id=ID`` and ``--eval_freq=K`` the
policy is evaluated on the env every K steps (success rate into the logs).

``--scheduler.type=...`` sets the learning-rate schedule by LeRobot 0.4.4's names (``diffuser``
with ``--scheduler.name``/``--scheduler.num_warmup_steps``, ``cosine_decay_with_warmup``,
``vqbet``) or lerobot_gym's own ``multistep`` (``--scheduler.milestones=[10000]
--scheduler.gamma=0.1``); without it the policy's preset applies (diffusion: diffusers' cosine
after 500 warm-up steps; ACT: constant), and a resumed run keeps its own. The rate is logged
with the loss (``lr``).

Writes ``OUT/checkpoints/<step>/pretrained_model`` (loadable here with ``--policy.path`` and by
LeRobot 0.4.4), ``OUT/train_log.csv``, ``OUT/loss.png`` and, when tensorboard is installed,
``OUT/tensorboard/``. ``--wandb.enable=true`` (LeRobot's flag; ``--wandb.project``,
``--wandb.entity``, ``--wandb.mode=offline``) logs the same metrics to Weights & Biases.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lerobot_gym.cli import common
from lerobot_gym.cli.args import CommandParser, Flag, UsageError

PARSER = CommandParser(
    prog="lerobot-gym train",
    description="""
        Train a learned policy (ACT or Diffusion Policy) on a LeRobot v3.0 dataset. Inputs and
        output come from the dataset's features (observation.* in, action out). Checkpoints
        every --save_freq steps in OUTPUT_DIR/checkpoints/<step>/pretrained_model (LeRobot's
        layout, loadable by LeRobot 0.4.4); --resume=true continues a run. Loss curves go to
        OUTPUT_DIR/train_log.csv, OUTPUT_DIR/loss.png and, if tensorboard is installed,
        OUTPUT_DIR/tensorboard.

        Any other --policy.<field>=value sets a config field by LeRobot's name, e.g.
        --policy.chunk_size=20 --policy.n_action_steps=20 --policy.dim_model=128.

        --scheduler.type sets the learning-rate schedule (default: the policy's preset,
        diffusion's cosine with 500 warm-up steps, none for ACT; a resumed run keeps its own):
        LeRobot's diffuser (--scheduler.name=cosine, linear, cosine_with_restarts, polynomial,
        constant or constant_with_warmup; --scheduler.num_warmup_steps=N),
        cosine_decay_with_warmup (--scheduler.num_warmup_steps --scheduler.num_decay_steps
        --scheduler.decay_lr [--scheduler.peak_lr]), vqbet (--scheduler.num_warmup_steps
        --scheduler.num_vqvae_training_steps --scheduler.num_cycles), or lerobot_gym's own
        multistep (--scheduler.milestones=[10000] --scheduler.gamma=0.1: the rate times gamma
        after each milestone step).
    """,
    flags=(
        Flag("policy.type", None, "act or diffusion (required unless --resume=true)", str, True),
        Flag("dataset.root", None, "the LeRobot dataset folder to train on", str, True),
        Flag("dataset.episodes", None, "train on these episodes only, e.g. [0,1,2]", Any, True),
        Flag("policy.device", "auto", "cpu, cuda or auto", str),
        Flag("output_dir", None, "run folder (default: outputs/train/<date>/<time>_<type>)", str),
        Flag("steps", 1000, "optimisation steps in total", int),
        Flag("batch_size", 8, "samples per step", int),
        Flag("save_freq", 500, "checkpoint every this many steps (and at the end)", int),
        Flag("log_freq", 10, "log the loss every this many steps", int),
        Flag("eval_freq", 0, "evaluate on --env.id every this many steps (0: never)", int),
        Flag("eval.n_episodes", 5, "episodes per evaluation during training", int),
        Flag("seed", 1000, "seed of torch, numpy and the sampler", int),
        Flag("resume", False, "continue the run in --output_dir from its last checkpoint", bool),
        Flag("num_threads", None, "torch CPU threads (default: torch's choice)", int, True),
        *common.WANDB_FLAGS,
    ),
    open_groups={
        "policy": "config fields of the policy by LeRobot's names (chunk_size, dim_model ...)",
        "env": "evaluation env during training: " + common.ENV_GROUP_HELP,
        "scheduler": "learning-rate schedule: type (diffuser, cosine_decay_with_warmup, vqbet, "
        "multistep) and its fields (see above)",
    },
    examples=(
        "lerobot-gym train --policy.type=act --dataset.root=data/pick --steps=10000 "
        "--batch_size=16 --policy.chunk_size=20 --policy.n_action_steps=20 "
        "--output_dir=outputs/train/act_pick",
        "lerobot-gym train --output_dir=outputs/train/act_pick --resume=true --steps=20000",
        "lerobot-gym train --policy.type=act --dataset.root=data/pick --steps=13000 "
        "--scheduler.type=multistep --scheduler.milestones=[10000] --scheduler.gamma=0.1",
    ),
)


def run(argv: list[str]) -> int:
    """Parse the flags, train with a progress bar, print where the checkpoints are."""
    from lerobot_gym.cli import train_sb3

    if train_sb3.is_sb3_policy_type(train_sb3.flag_value(argv, "policy.type")):
        # --policy.type=sac|td3|ddpg|ppo|a2c: stable-baselines3 online on --env.id.
        return train_sb3.run(argv)
    cfg = PARSER.parse(argv)
    from lerobot_gym.policies.files import require_torch

    torch = require_torch("`lerobot-gym train`")
    if cfg["num_threads"]:
        torch.set_num_threads(cfg["num_threads"])
    train_cfg = build_config(cfg)
    evaluate = _evaluator(cfg) if cfg["eval_freq"] else None
    from lerobot_gym.policies.training import train

    bar = _Bar(train_cfg.steps)
    try:
        path = train(train_cfg, progress=bar, evaluate=evaluate)
    finally:
        bar.close()
    out = Path(train_cfg.output_dir)
    print(f"checkpoint: {path}")
    print(f"loss log: {out / 'train_log.csv'}; plot: {out / 'loss.png'}")
    return 0


def build_config(cfg: dict[str, Any]) -> Any:
    """The :class:`~lerobot_gym.policies.training.TrainConfig` for parsed flags."""
    from lerobot_gym.policies.training import TrainConfig

    policy = dict(cfg.get("policy", {}))
    policy_type = policy.pop("type", None)
    device = policy.pop("device", "auto")
    dataset = cfg.get("dataset", {})
    output_dir = cfg["output_dir"]
    if cfg["resume"]:
        if output_dir is None:
            raise UsageError("--resume=true needs --output_dir=<the run to continue>")
        if dataset.get("root") is None or policy_type is None:
            previous = _previous_run(Path(output_dir))
            policy_type = policy_type or previous.get("policy_type")
            dataset = {**dataset, "root": dataset.get("root") or previous.get("dataset_root")}
    if policy_type is None:
        raise UsageError("--policy.type is required (act or diffusion)")
    if dataset.get("root") is None:
        raise UsageError("--dataset.root is required (a LeRobot dataset folder)")
    if output_dir is None:
        output_dir = str(common.default_output_dir("train", policy_type))
    episodes = dataset.get("episodes")
    return TrainConfig(
        policy_type=policy_type,
        dataset_root=dataset["root"],
        output_dir=output_dir,
        steps=cfg["steps"],
        batch_size=cfg["batch_size"],
        save_freq=cfg["save_freq"],
        log_freq=cfg["log_freq"],
        seed=cfg["seed"],
        device=device,
        policy_options=policy,
        resume=cfg["resume"],
        episodes=[int(e) for e in episodes] if isinstance(episodes, list) else None,
        eval_freq=cfg["eval_freq"],
        wandb=_wandb_settings(cfg, policy_type, dataset["root"]),
        scheduler=_scheduler_flags(cfg),
    )


def _scheduler_flags(cfg: dict[str, Any]) -> dict[str, Any] | None:
    """The ``--scheduler.*`` flags, checked now so a mistake fails before the dataset loads."""
    from lerobot_gym.policies.lr_schedulers import scheduler_config

    flags = dict(cfg.get("scheduler", {}))
    scheduler_config(flags)  # raises ConfigError naming the flag
    return flags or None


def _wandb_settings(cfg: dict[str, Any], policy_type: str, dataset_root: str) -> Any:
    """W&B settings when ``--wandb.enable=true`` (the run's flags as its config), else None."""
    return common.wandb_settings(
        cfg,
        {
            "policy": {**cfg.get("policy", {}), "type": policy_type},
            "dataset": {"root": str(dataset_root)},
            **{k: cfg[k] for k in ("steps", "batch_size", "seed", "save_freq", "log_freq")},
            **({"scheduler": cfg["scheduler"]} if cfg.get("scheduler") else {}),
        },
    )


def _previous_run(output_dir: Path) -> dict[str, Any]:
    import json

    path = output_dir / "checkpoints" / "last" / "pretrained_model" / "train_config.json"
    if not path.is_file():
        raise UsageError(f"--resume=true: {output_dir} holds no checkpoint ({path})")
    return dict(json.loads(path.read_text()))


def _evaluator(cfg: dict[str, Any]) -> Any:
    env_args = dict(cfg.get("env", {}))
    if not env_args.get("id"):
        raise UsageError("--eval_freq needs --env.id=ID (the env to evaluate on)")
    env_id = common.resolve_env_id(env_args.get("id"))
    kwargs = common.env_kwargs(env_args)
    n_episodes = cfg["eval"]["n_episodes"]

    def evaluate(policy: Any, step: int) -> dict[str, float]:
        from lerobot_gym.policies import evaluate_policy

        result = evaluate_policy(
            common.env_factory(env_id, kwargs), lambda env: policy, n_episodes, seed=cfg["seed"]
        )
        return {"success_rate": result.success_rate, "avg_sum_reward": result.avg_sum_reward}

    return evaluate


class _Bar:
    """tqdm progress bar fed by the training loop's reports."""

    def __init__(self, total: int) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, desc="train", unit="step", file=sys.stderr)

    def __call__(self, report: Any) -> None:
        self._bar.n = report.step
        self._bar.set_postfix(
            loss=f"{report.losses.get('loss', float('nan')):.4f}",
            samples_s=f"{report.samples_per_s:.0f}",
        )
        self._bar.refresh()

    def close(self) -> None:
        """Leave the bar on the terminal."""
        self._bar.close()
