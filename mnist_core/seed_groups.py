"""Training seed groups on Ray: each (model, seed) run is one Ray task, on this machine or a cluster.

With no address Ray starts locally and spreads the tasks over this machine's cores, each task
training on its share of them; with ``$RAY_ADDRESS`` (or ``address``) the same call runs the
tasks on that cluster, so a user who outgrows one machine adds machines, not code. The driver
saves each run as it finishes (atomically, as every run is saved); an interrupt cancels the
tasks still running and keeps the finished runs. A single run never starts Ray.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .jobs import available_cores
from .recipes import TrainConfig

RAY_ADDRESS_ENV = "RAY_ADDRESS"
AUTH_MODE_ENV = "RAY_AUTH_MODE"  # "token": join a cluster that asks for its token


@dataclass(frozen=True)
class RunTask:
    """One run of a seed group: a model, its settings (with the seed) and the folder to save it in."""

    model_key: str
    config: TrainConfig
    target: Path


def train_run(model_key: str, config: dict, data_dir: str | None, threads: int) -> dict:
    """The Ray task: train one run in a worker process and return what :func:`~mnist_core.runs.save_run`
    stores of it (the weights as tensors), or ``{"diverged_at": epoch}``."""
    import torch

    from .data import load_mnist
    from .models import load_user_models
    from .training import train_model

    torch.set_num_threads(threads)
    load_user_models()  # the operator's models, as on the driver ($MNIST_MODELS travels with the job)
    data = load_mnist(data_dir, download=False)
    result = train_model(model_key, data, TrainConfig.from_dict(config))
    if result.diverged_at is not None:
        return {"diverged_at": result.diverged_at}
    fields = result.run_fields()
    fields["model"] = {name: tensor.detach().cpu() for name, tensor in result.model.state_dict().items()}
    return fields


def train_seed_group(tasks: Sequence[RunTask], data_dir: str | None, save: Callable[[RunTask, dict], object],
                     workers: int | None = None, address: str | None = None,
                     on_finished: Callable[[RunTask, object], None] = lambda task, outcome: None) -> None:
    """Train ``tasks`` as Ray tasks, at most ``workers`` at once (default: one per core of the
    cluster), and call ``save(task, fields)`` for each as it finishes; ``on_finished(task, outcome)``
    then gets what ``save`` returned, or an error message.

    Raises:
        ValueError: ``address`` cannot be reached, or the cluster there refuses this machine (no token).
        KeyboardInterrupt: after cancelling the tasks still running; the finished runs are saved.
    """
    import ray

    address = address or os.environ.get(RAY_ADDRESS_ENV) or None
    if address:
        check_reachable(address)
    package = sys.modules[__package__]  # this library travels to the workers (Ray zips a module's folder)
    started_here = not ray.is_initialized()
    if started_here:
        # On this machine alone Ray listens on the loopback address, not the network's.
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False,
                     runtime_env={"py_modules": [package],
                                  "env_vars": {key: value for key, value in os.environ.items()
                                               if key.startswith("MNIST_")}},
                     **({} if address else {"num_cpus": available_cores(), "_node_ip_address": "127.0.0.1"}))
        except ConnectionError as error:  # it answers, but Ray would not let this machine join
            if not address:
                raise  # Ray could not start on this machine: its own message says why
            raise ValueError(
                f"Ray could not join the cluster at {address} ({error}). A cluster started with `ray start` "
                f"asks for its token (Ray 2.60 and later): run this with {AUTH_MODE_ENV}=token and the token of "
                "the cluster in RAY_AUTH_TOKEN (`ray get-auth-token` prints it on the head), or start the cluster "
                f"with {AUTH_MODE_ENV}=disabled on a private network.") from None
    try:
        cores = max(1, int(ray.cluster_resources().get("CPU", 1)))
        workers = max(1, min(workers or cores, len(tasks)))
        threads = max(1, cores // workers)  # each task its share of the cores, so tasks do not fight
        remote = ray.remote(num_cpus=threads, max_retries=0)(train_run)
        waiting, running = list(tasks), {}
        try:
            while waiting or running:
                while waiting and len(running) < workers:
                    task = waiting.pop(0)
                    running[remote.remote(task.model_key, task.config.to_dict(), data_dir, threads)] = task
                (done,), _ = ray.wait(list(running), num_returns=1)
                task = running.pop(done)
                try:
                    fields = ray.get(done)
                except ray.exceptions.RayError as error:
                    on_finished(task, f"training failed: {_cause(error)}")
                    continue
                if "diverged_at" in fields:
                    on_finished(task, f"diverged in epoch {fields['diverged_at']} (the loss became NaN or "
                                      "infinite); nothing was saved. Try a lower --lr.")
                    continue
                on_finished(task, save(task, fields))
        except KeyboardInterrupt:
            for reference in running:
                ray.cancel(reference, force=True)
            raise
    finally:
        if started_here:
            ray.shutdown()


def check_reachable(address: str, seconds: float = 10) -> None:
    """Refuse at once a cluster address that nothing answers at (Ray itself would wait minutes).

    Raises:
        ValueError: naming the address and what to do.
    """
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=seconds):
            return
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ValueError(f"Cannot reach the Ray cluster at {address} ({reason}): start it there with "
                         f"`ray start --head`, or unset {RAY_ADDRESS_ENV} to train on this machine's cores.") from None


def _cause(error: Exception) -> str:
    cause = getattr(error, "cause", None)
    return f"{type(cause).__name__}: {cause}" if cause is not None else str(error).splitlines()[0]
