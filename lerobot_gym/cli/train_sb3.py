"""Train a stable-baselines3 algorithm online on an env id, with checkpoints and curves.

``lerobot-gym train --policy.type=sac --env.id=SO101-Reach-v0 --env.obs_type=state
--steps=30000 --output_dir=outputs/train/sac_reach``: ``lerobot-gym train`` hands an SB3
``--policy.type`` (sac, td3, ddpg, ppo, a2c) to :func:`run`. The flags are
LeRobot's where they exist: ``--steps``, ``--batch_size``, ``--save_freq``, ``--eval_freq``,
``--output_dir``, ``--seed``, ``--policy.device``, ``--resume``.

The output directory holds:

* ``checkpoints/<step>/``: a policy directory (``config.json`` + ``model.zip``, loadable by
  ``lerobot-gym eval``) plus ``replay_buffer.pkl``, every ``--save_freq`` steps; ``checkpoints/
  last`` names the newest, from which ``--resume=true`` continues;
* ``policy/``: the final policy directory;
* ``eval.csv`` (step, success rate, mean return over ``--eval.n_episodes`` seeded episodes, run
  through :func:`~lerobot_gym.policies.evaluate_policy` exactly as ``lerobot-gym eval`` runs
  them), ``logs/<first step>/progress.csv`` (SB3's logger, one folder per resumed segment:
  losses, episode returns, the evaluation), TensorBoard event files beside it when
  ``tensorboard`` is installed, and ``training.png`` (the curves).
* with ``--policy.normalize_obs=true``, SB3's ``VecNormalize`` statistics: saved in each
  checkpoint (``vec_normalize.pkl``) and in the policy's ``config.json`` (``obs_norm``).

Design decisions:

* torch runs single-threaded unless ``--policy.num_threads`` says otherwise: SB3's small
  networks gain nothing from more threads, and on a busy machine torch's spinning threads made a
  300-step SAC run 20x slower than one thread.
* ``--train.max_episode_steps=N`` shortens the training env's episodes only. On a task whose
  episode is long next to the time the task takes (SO101-Reach: 100 steps, while the arm
  settles on a commanded pose in under 10), short training episodes give the agent many more
  goals for the same env steps; evaluation keeps the id's episodes, so success means the same.
* ``--train.success_bonus=B`` adds ``B`` to the training env's reward on successful steps
  (:class:`~lerobot_gym.wrappers.success_bonus.SuccessBonus`, relabelled goals included);
  evaluation keeps the id's reward.
* ``--policy.her=true`` trains on the goal-conditioned stack with SB3's ``HerReplayBuffer``
  (``lerobot_gym.policies.sb3_goal``); the saved policy still acts on the plain env.
* Every other ``--policy.<key>`` is a keyword of the SB3 algorithm (``--policy.gamma=0.9``,
  ``--policy.net_arch=[64,64]`` goes to ``policy_kwargs``).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from lerobot_gym.cli import common
from lerobot_gym.cli.args import CommandParser, Flag, UsageError
from lerobot_gym.errors import MissingExtraError

PARSER = CommandParser(
    prog="lerobot-gym train",
    description="""
        Train a stable-baselines3 algorithm (--policy.type=sac|td3|ddpg|ppo|a2c) online on
        --env.id. Checkpoints every --save_freq steps in OUTPUT_DIR/checkpoints (resume with
        --resume=true), evaluation every --eval_freq steps into OUTPUT_DIR/eval.csv, losses
        and returns into OUTPUT_DIR/logs/*/progress.csv (and TensorBoard if installed), curves into
        OUTPUT_DIR/training.png, and the final policy into OUTPUT_DIR/policy for
        `lerobot-gym eval --policy.type=sb3 --policy.path=OUTPUT_DIR/policy`.
    """,
    flags=(
        Flag("policy.type", None, "the SB3 algorithm: sac, td3, ddpg, ppo, a2c", str),
        Flag("policy.device", "cpu", "torch device: cpu, cuda or auto", str),
        Flag("policy.num_threads", 1, "torch CPU threads", int),
        Flag(
            "policy.normalize_obs",
            False,
            "normalise Box observations by running mean/std (SB3's VecNormalize)",
            bool,
        ),
        Flag(
            "policy.her",
            False,
            "hindsight experience replay on a goal task (sac, td3, ddpg; state observations)",
            bool,
        ),
        Flag("policy.her_n_sampled_goal", 4, "relabelled goals per real transition (HER)", int),
        Flag("policy.her_strategy", "future", "HER goal selection: future, final, episode", str),
        Flag("steps", 100_000, "env steps to train for (in total, across resumes)", int),
        Flag("batch_size", 256, "minibatch size", int),
        Flag("save_freq", 10_000, "checkpoint every this many env steps (0: only at the end)", int),
        Flag("eval_freq", 5_000, "evaluate every this many env steps (0: only at the end)", int),
        Flag("eval.n_episodes", 10, "episodes per evaluation", int),
        Flag(
            "train.max_episode_steps",
            None,
            "time limit of the training env's episodes (null: the id's); evaluation keeps the "
            "id's limit",
            int,
            True,
        ),
        Flag(
            "train.success_bonus",
            None,
            "reward added on successful steps of the training env (null: none); evaluation "
            "keeps the id's reward",
            float,
            True,
        ),
        Flag("seed", 1000, "seed of the model, the env and the evaluation episodes", int),
        Flag(
            "output_dir", None, "where to write (default: outputs/train/<date>/<time>_<env>)", str
        ),
        Flag("resume", False, "continue from OUTPUT_DIR/checkpoints/last", bool),
        *common.WANDB_FLAGS,
    ),
    open_groups={"env": common.ENV_GROUP_HELP, "policy": "SB3 algorithm keywords"},
    examples=(
        "lerobot-gym train --policy.type=sac --env.id=SO101-Reach-v0 --env.obs_type=state "
        "--steps=30000 --output_dir=outputs/train/sac_reach",
    ),
)
_OWN_POLICY_KEYS = (
    "type",
    "device",
    "num_threads",
    "net_arch",
    "normalize_obs",
    "her",
    "her_n_sampled_goal",
    "her_strategy",
)


def run(argv: list[str]) -> int:
    """Parse the flags, train, print where everything was written."""
    if any(token.startswith("--dataset.") for token in argv):
        raise UsageError(
            f"--policy.type={flag_value(argv, 'policy.type')} (stable-baselines3) trains online "
            "on --env.id=ID; --dataset.* is for --policy.type=act|diffusion. To start from "
            "recorded data, use lerobot_gym.policies.sb3.seed_replay_buffer"
        )
    report = train(PARSER.parse(argv))
    last = report["evaluations"][-1] if report["evaluations"] else None
    if last is not None:
        print(
            f"step {last['step']}: success rate {100 * last['success_rate']:.1f}% "
            f"avg sum reward {last['avg_sum_reward']:.2f}"
        )
    print(f"trained {report['steps']} steps in {report['elapsed_s']:.0f} s")
    print(f"wrote {report['policy_dir']}")
    print(f"wrote {report['plot']}")
    return 0


def is_sb3_policy_type(policy_type: str | None) -> bool:
    """Whether ``--policy.type`` names an SB3 algorithm (for ``lerobot-gym train``'s dispatch)."""
    from lerobot_gym.policies.sb3 import ALGORITHMS

    return str(policy_type).lower() in ALGORITHMS


def flag_value(argv: list[str], name: str) -> str | None:
    """The value of ``--name=VALUE`` or ``--name VALUE`` in ``argv`` (None when absent).

    Example:
        >>> flag_value(["--env.id=X", "--policy.type", "sac"], "policy.type")
        'sac'
    """
    for i, token in enumerate(argv):
        if token == f"--{name}" and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith(f"--{name}="):
            return token.split("=", 1)[1]
    return None


@dataclasses.dataclass
class _Run:
    env_id: str
    env_kwargs: dict[str, Any]
    algorithm: str
    algo_kwargs: dict[str, Any]
    out: Path
    seed: int
    n_eval: int
    normalize_obs: bool
    train_episode_steps: int | None = None
    her: bool = False
    wandb_run: Any = None
    success_bonus: float | None = None


def train(cfg: dict[str, Any]) -> dict[str, Any]:
    """Train as the parsed flags say; returns the evaluations and the paths written.

    Raises:
        UsageError: a missing or unknown ``--policy.type``, or an output directory that holds a
            run while ``--resume`` is false (or none while it is true).
    """
    import time

    import torch

    from lerobot_gym.policies.sb3 import ALGORITHMS

    policy_args = dict(cfg.get("policy", {}))
    algorithm = str(policy_args.get("type") or "").lower()
    if algorithm not in ALGORITHMS:
        raise UsageError(f"--policy.type must be one of {sorted(ALGORITHMS)}, got {algorithm!r}")
    env_args = dict(cfg.get("env", {}))
    env_id = common.resolve_env_id(env_args.get("id"))
    run_ = _Run(
        env_id=env_id,
        env_kwargs=common.env_kwargs(env_args),
        algorithm=algorithm,
        algo_kwargs=_algo_kwargs(policy_args, cfg),
        out=Path(cfg["output_dir"] or common.default_output_dir("train", env_id)),
        seed=int(cfg["seed"]),
        n_eval=int(cfg["eval"]["n_episodes"]),
        normalize_obs=bool(policy_args.get("normalize_obs")),
        train_episode_steps=_episode_steps(cfg),
        her=bool(policy_args.get("her")),
        success_bonus=_success_bonus(cfg),
    )
    torch.set_num_threads(max(1, int(policy_args.get("num_threads") or 1)))
    checkpoints = run_.out / "checkpoints"
    if cfg["resume"] and not (checkpoints / "last").is_file():
        raise UsageError(f"--resume=true but {checkpoints} has no checkpoint to resume from")
    if not cfg["resume"] and checkpoints.exists():
        raise UsageError(
            f"{run_.out} already holds a run; pass --resume=true to continue it or choose "
            "another --output_dir"
        )
    settings = _wandb_settings(cfg, algorithm, env_id)
    run_.out.mkdir(parents=True, exist_ok=True)
    if settings is not None:
        from lerobot_gym.policies.train_log import start_wandb_run

        run_.wandb_run = start_wandb_run(settings, run_.out, resume=bool(cfg["resume"]))
    try:
        model, env, vec = _build(run_, resume=bool(cfg["resume"]))
    except BaseException:
        if run_.wandb_run is not None:
            run_.wandb_run.finish()
        raise
    callback = _Callback(run_, env, vec, cfg["save_freq"], cfg["eval_freq"], cfg["steps"])
    start = time.perf_counter()
    remaining = max(0, int(cfg["steps"]) - int(model.num_timesteps))
    try:
        model.learn(total_timesteps=remaining, callback=callback, reset_num_timesteps=False)
        callback.checkpoint(final=True)
        if not callback.evaluations or callback.evaluations[-1]["step"] != model.num_timesteps:
            callback.evaluate()
    finally:
        callback.close()
        env.close()
        if run_.wandb_run is not None:
            run_.wandb_run.finish()
    from lerobot_gym.policies.sb3_log import plot_training

    policy_dir = callback.policy().save(run_.out / "policy")
    plot = plot_training(run_.out)
    return {
        "steps": int(model.num_timesteps),
        "elapsed_s": time.perf_counter() - start,
        "evaluations": callback.evaluations,
        "policy_dir": policy_dir,
        "plot": plot,
        "output_dir": run_.out,
    }


def _wandb_settings(cfg: dict[str, Any], algorithm: str, env_id: str) -> Any:
    """W&B settings when ``--wandb.enable=true`` (the run's flags as its config), else None."""
    return common.wandb_settings(
        cfg,
        {
            "policy": {**cfg.get("policy", {}), "type": algorithm},
            "env": {**cfg.get("env", {}), "id": env_id},
            "train": dict(cfg.get("train", {})),
            **{k: cfg[k] for k in ("steps", "batch_size", "seed", "save_freq", "eval_freq")},
        },
    )


def _logger(run_: _Run, step: int) -> Any:
    """SB3's logger for the run segment starting at ``step`` (W&B too when started)."""
    from lerobot_gym.policies.sb3_log import make_logger

    return make_logger(run_.out / "logs" / f"{step:09d}", run_.wandb_run)


def _success_bonus(cfg: dict[str, Any]) -> float | None:
    import math

    bonus = cfg.get("train", {}).get("success_bonus")
    if bonus is not None and not math.isfinite(float(bonus)):
        raise UsageError(f"--train.success_bonus must be a finite number, got {bonus}")
    return None if bonus is None else float(bonus)


def _episode_steps(cfg: dict[str, Any]) -> int | None:
    steps = cfg.get("train", {}).get("max_episode_steps")
    if steps is not None and int(steps) < 1:
        raise UsageError(f"--train.max_episode_steps must be at least 1, got {steps}")
    return None if steps is None else int(steps)


def _algo_kwargs(policy_args: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    kwargs = {k: v for k, v in policy_args.items() if k not in _OWN_POLICY_KEYS}
    if policy_args.get("net_arch") is not None:
        kwargs["policy_kwargs"] = {"net_arch": list(policy_args["net_arch"])}
    if policy_args.get("her"):
        from lerobot_gym.errors import ConfigError
        from lerobot_gym.policies.sb3_goal import goal_policy_kwargs, her_kwargs

        try:
            kwargs.update(
                her_kwargs(
                    str(policy_args.get("type")),
                    n_sampled_goal=int(policy_args.get("her_n_sampled_goal", 4)),
                    strategy=str(policy_args.get("her_strategy", "future")),
                )
            )
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        kwargs["policy_kwargs"] = goal_policy_kwargs(kwargs.get("policy_kwargs"))
    if str(policy_args.get("type")).lower() != "a2c":  # A2C has no minibatches
        kwargs["batch_size"] = int(cfg["batch_size"])
    kwargs["device"] = policy_args.get("device") or "cpu"
    return kwargs


def _build(run_: _Run, *, resume: bool) -> tuple[Any, Any, Any]:
    """(model, the SB3 stack, the vector env the model steps: VecNormalize'd or not)."""
    from gymnasium import spaces
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from lerobot_gym.errors import ConfigError
    from lerobot_gym.policies.sb3 import algorithm_class, default_policy_class, make_sb3_env

    train_kwargs = dict(run_.env_kwargs)
    if run_.train_episode_steps is not None:
        train_kwargs["max_episode_steps"] = run_.train_episode_steps
    try:
        env = make_sb3_env(run_.env_id, goal=run_.her, **train_kwargs)
    except ConfigError as exc:
        if not run_.her:
            raise
        raise UsageError(f"--policy.her=true on {run_.env_id}: {exc}") from None
    if run_.success_bonus is not None:
        from lerobot_gym.wrappers.success_bonus import SuccessBonus

        env = SuccessBonus(env, bonus=run_.success_bonus)
    cls = algorithm_class(run_.algorithm)
    last = run_.out / "checkpoints"
    if resume:
        last = last / (last / "last").read_text().strip()
    vec: Any = DummyVecEnv([lambda: env])
    if run_.normalize_obs:
        if not isinstance(env.observation_space, spaces.Box) and not run_.her:
            raise UsageError(
                "--policy.normalize_obs=true needs a Box observation (--env.obs_type=state)"
            )
        if resume:
            vec = VecNormalize.load(str(last / "vec_normalize.pkl"), vec)
        else:
            vec = VecNormalize(vec, norm_obs=True, norm_reward=False)
    if resume:
        model = cls.load(last / "model.zip", env=vec, device=run_.algo_kwargs["device"])
        if (last / "replay_buffer.pkl").is_file():
            model.load_replay_buffer(last / "replay_buffer.pkl")
    else:
        try:
            model = cls(
                default_policy_class(env.observation_space),
                vec,
                seed=run_.seed,
                **run_.algo_kwargs,
            )
        except TypeError as exc:
            raise UsageError(
                f"--policy.* options not accepted by {run_.algorithm}: {exc}"
            ) from None
    model.set_logger(_logger(run_, int(model.num_timesteps)))
    return model, env, vec


def _callback_base() -> type:
    try:
        from stable_baselines3.common.callbacks import BaseCallback
    except ImportError as exc:
        raise MissingExtraError(
            "stable_baselines3", "rl", "lerobot-gym train --policy.type=sac"
        ) from exc
    return BaseCallback


class _Callback(_callback_base()):  # type: ignore[misc]
    """Checkpoints, evaluations and the progress bar, every env step of ``learn()``."""

    def __init__(
        self, run_: _Run, env: Any, vec: Any, save_freq: int, eval_freq: int, total: int
    ) -> None:
        super().__init__()
        from tqdm.auto import tqdm

        from lerobot_gym.policies.sb3_log import read_evals

        self.run_, self.env, self.vec = run_, env, vec
        self.save_freq, self.eval_freq = int(save_freq), int(eval_freq)
        self.total = int(total)
        self.evaluations: list[dict[str, Any]] = read_evals(run_.out / "eval.csv")
        self._bar = tqdm(total=total, desc=f"train {run_.algorithm}", file=sys.stderr, leave=False)

    def _on_training_start(self) -> None:
        self._bar.n = int(self.model.num_timesteps)

    def _on_step(self) -> bool:
        step = int(self.model.num_timesteps)
        self._bar.update(step - self._bar.n)
        if self.save_freq > 0 and step % self.save_freq == 0:
            self.checkpoint()
        # The last step's evaluation waits for the end of learn(): SB3 runs that step's
        # gradient updates after this callback, and the row must describe the saved policy.
        if self.eval_freq > 0 and step % self.eval_freq == 0 and step < self.total:
            self.evaluate()
        return True

    def policy(self) -> Any:
        from lerobot_gym.policies.sb3 import SB3Policy, obs_norm_of

        norm = obs_norm_of(self.vec) if self.run_.normalize_obs else None
        return SB3Policy.from_env(self.model, self.env, obs_norm=norm)

    def checkpoint(self, final: bool = False) -> Path:
        step = int(self.model.num_timesteps)
        directory = self.run_.out / "checkpoints" / f"{step:09d}"
        self.policy().save(directory)
        if hasattr(self.model, "save_replay_buffer"):
            self.model.save_replay_buffer(directory / "replay_buffer.pkl")
        if self.run_.normalize_obs:
            self.vec.save(str(directory / "vec_normalize.pkl"))
        # Written last, by rename: a crash mid-save leaves `last` naming a complete checkpoint.
        tmp = directory.parent / "last.tmp"
        tmp.write_text(directory.name + "\n")
        tmp.replace(directory.parent / "last")
        return directory

    def evaluate(self) -> dict[str, Any]:
        from lerobot_gym.policies import evaluate_policy
        from lerobot_gym.policies.sb3_log import append_eval

        policy = self.policy()
        result = evaluate_policy(
            common.env_factory(self.run_.env_id, self.run_.env_kwargs),
            lambda env: policy,
            n_episodes=self.run_.n_eval,
            seed=self.run_.seed + 1_000_000,  # episodes the training env never drew
        )
        row = {
            "step": int(self.model.num_timesteps),
            "success_rate": result.success_rate,
            "avg_sum_reward": result.avg_sum_reward,
            "elapsed_s": result.elapsed_s,
        }
        self.evaluations.append(row)
        append_eval(self.run_.out / "eval.csv", row)
        self.logger.record("eval/success_rate", row["success_rate"])
        self.logger.record("eval/avg_sum_reward", row["avg_sum_reward"])
        self.logger.dump(row["step"])  # with the latest losses and returns, one CSV row
        self._bar.set_postfix(success=f"{100 * result.success_rate:.0f}%")
        return row

    def close(self) -> None:
        self._bar.close()
