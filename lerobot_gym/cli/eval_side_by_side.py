"""``lerobot-gym eval --env.backend=sim,emulated``: one policy, same seeds, several backends.

:mod:`lerobot_gym.cli.eval` hands over here when ``--env.backend`` names more than one backend.
Every other ``--env.<keyword>`` goes to every backend; ``--env.<backend>.<keyword>`` only to that
backend (``--env.emulated.lockstep=true``, ``--env.real.port=/dev/ttyACM0``). The report is
``OUTPUT_DIR/side_by_side.json`` with ``success_returns.png`` and ``tracking_error.png`` next to
it (:mod:`lerobot_gym.policies.side_by_side` says what each number means).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lerobot_gym.cli import common
from lerobot_gym.cli.args import UsageError

#: Backends a side-by-side evaluation may name.
BACKENDS = ("sim", "emulated", "real")


def backend_list(value: Any) -> list[str] | None:
    """The backends of ``--env.backend`` when it names several, else None (one backend)."""
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()] if "," in value else None
    if not isinstance(value, list):
        return None
    names = [str(v).strip() for v in value]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or len(set(names)) != len(names) or len(names) < 2:
        raise UsageError(
            f"--env.backend={','.join(names)}: name two or more different backends of "
            f"{', '.join(BACKENDS)}, e.g. --env.backend=sim,emulated"
        )
    return names


def evaluate(cfg: dict[str, Any], backends: list[str]) -> dict[str, Any]:
    """Run the side-by-side evaluation of parsed flags; write the report and plots."""
    from lerobot_gym.policies import make_policy
    from lerobot_gym.policies.side_by_side import evaluate_side_by_side, write_plots

    if cfg["eval"].get("batch_size", 1) != 1:
        raise UsageError(
            "--eval.batch_size runs one backend's episodes in parallel; drop it with "
            f"--env.backend={','.join(backends)} (each backend runs its episodes in turn)"
        )
    env_args = dict(cfg.get("env", {}))
    env_id = common.resolve_env_id(env_args.pop("id", None))
    env_args.pop("backend", None)
    own = {name: env_args.pop(name, None) or {} for name in BACKENDS}
    for name, given in own.items():
        if not isinstance(given, dict):
            raise UsageError(f"--env.{name} takes keywords: --env.{name}.<keyword>=value")
        if given and name not in backends:
            raise UsageError(
                f"--env.{name}.* given but --env.backend does not name {name}; add it or drop "
                "the flags"
            )
    shared = common.env_kwargs({"id": env_id, **env_args})
    kwargs = {
        name: {**shared, **common.env_kwargs({"id": env_id, **own[name]})} for name in backends
    }
    from lerobot_gym.cli.eval import _policy_type

    policy_args = dict(cfg.get("policy", {}))
    policy_type = _policy_type(policy_args.pop("type", None), policy_args.get("path"))
    seed = cfg["seed"]
    output_dir = Path(cfg["output_dir"] or common.default_output_dir("eval", env_id))

    def policy_factory(env):
        return make_policy(policy_type, env, seed=seed, **policy_args)

    def progress(backend, episode) -> None:
        mark = "success" if episode.success else "failure"
        print(
            f"  {backend}: seed {episode.seed}: {mark}, {episode.steps} steps, "
            f"sum reward {episode.sum_reward:.3f}",
            flush=True,
        )

    result = evaluate_side_by_side(
        env_id,
        kwargs,
        policy_factory,
        n_episodes=cfg["eval"]["n_episodes"],
        seed=seed,
        max_steps=cfg["eval"]["max_steps"],
        progress=progress,
    )
    report = result.to_dict()
    report["config"] = {
        "env": {"id": env_id, "backends": backends, "kwargs": kwargs},
        "policy": {"type": policy_type, **policy_args},
        "seed": seed,
        "n_episodes": cfg["eval"]["n_episodes"],
    }
    path = common.write_json(output_dir / "side_by_side.json", report)
    plots = write_plots(result, output_dir)
    return {"report": report, "path": path, "plots": plots, "result": result}


def run(cfg: dict[str, Any], backends: list[str]) -> int:
    """Evaluate side by side and print the table of results and gaps."""
    out = evaluate(cfg, backends)
    report = out["report"]
    for name, b in report["backends"].items():
        low, high = b["success_rate_interval"]
        print(
            f"{name}: success {100 * b['success_rate']:.1f}% ({b['successes']}/{b['n_episodes']}; "
            f"95% {100 * low:.1f}-{100 * high:.1f}%), avg return {b['avg_sum_reward']:.3f}"
        )
        errors = ", ".join(
            f"{joint} {_num(value)} {b['units'][joint]} (lag {b['tracking_lag_frames'][joint]})"
            for joint, value in b["tracking_error"].items()
        )
        print(f"  tracking error: {errors}")
    for gap in report["gaps"]:
        low, high = gap["success_rate_difference_interval"]
        r_low, r_high = gap["sum_reward_difference_interval"]
        print(
            f"gap {gap['backend']} - {gap['reference']}: success "
            f"{100 * gap['success_rate_difference']:+.1f} points (95% {100 * low:+.1f} to "
            f"{100 * high:+.1f}), return {gap['sum_reward_difference']:+.3f} "
            f"(95% {r_low:+.3f} to {r_high:+.3f}, paired by seed)"
        )
    print(f"wrote {out['path']}")
    for path in out["plots"]:
        print(f"wrote {path}")
    return 0


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
