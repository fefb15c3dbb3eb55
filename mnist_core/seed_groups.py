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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .cores import available_cores
from .recipes import TrainConfig
from .room import PRESENTER_KEY_ENV, PRESENTER_MODE_ENV

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

    with ray_session(address):
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


@contextmanager
def ray_session(address: str | None = None) -> Iterator[None]:
    """Ray, for the ``with`` block: started on this machine's cores, or joined at ``address`` (default
    ``$RAY_ADDRESS``); shut down afterwards if it was started here. A seed group's and a fine-tuning's tasks
    run in it.

    Raises:
        ValueError: ``address`` cannot be reached, or the cluster there refuses this machine (no token).
    """
    import ray

    address = address or os.environ.get(RAY_ADDRESS_ENV) or None
    if address:
        check_reachable(address)  # at once, not after Ray's own minutes of retries
    package = sys.modules[__package__]  # this library travels to the workers (Ray zips a module's folder)
    started_here = not ray.is_initialized()
    if started_here:
        # On this machine alone Ray listens on the loopback address, not the network's. "local": a Ray of its
        # own even when `ray start` left a cluster on this machine (address=None would join that one).
        try:
            ray.init(address=address or "local", include_dashboard=False, log_to_driver=False, configure_logging=False,
                     runtime_env={"py_modules": [package],
                                  "env_vars": worker_environment()},
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
        yield
    finally:
        if started_here:
            ray.shutdown()


def worker_environment() -> dict[str, str]:
    """The settings a worker needs (``MNIST_*``: data, models of one's own…), never the presenter's key: Ray keeps
    a job's environment and shows it on its dashboard, to whoever can reach the cluster."""
    return {key: value for key, value in os.environ.items()
            if key.startswith("MNIST_") and key not in (PRESENTER_KEY_ENV, PRESENTER_MODE_ENV)}


def check_reachable(address: str, seconds: float = 10) -> None:
    """Refuse at once, in at most twice ``seconds``, a cluster address that nothing answers at, or where
    something other than Ray answers (a web server, Ray's dashboard): Ray itself would retry for minutes.

    Ray's head (and its client server, ``ray://``) speaks gRPC, that is HTTP/2, which answers the HTTP/2
    greeting with its settings frame; a web server answers it with an HTTP/1 error, or not at all.

    Raises:
        ValueError: naming the address and what to do.
    """
    if address == "auto":
        return
    scheme, separator, _ = address.partition("://")
    if separator and scheme != "ray":
        raise ValueError(f"{address} is a web address (Ray's dashboard, which `ray job submit` "
                         "uses); training joins the cluster itself: give the head's address as HOST:6379 (what "
                         f"`ray start --head` printed), or unset {RAY_ADDRESS_ENV} to train on this machine's cores.")
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=seconds) as connection:
            if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
                return  # a TLS cluster answers only after a TLS handshake: left to Ray
            answer = _http2_answer(connection, seconds)
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ValueError(f"Cannot reach the Ray cluster at {address} ({reason}): start it there with "
                         f"`ray start --head`, or unset {RAY_ADDRESS_ENV} to train on this machine's cores.") from None
    if len(answer) < 9 or answer[3] != _HTTP2_SETTINGS:
        what = (f"says nothing in {seconds:g} s" if not answer else "answers as a web server"
                if answer.lstrip().startswith((b"HTTP/", b"<")) else "answers in another protocol")
        raise ValueError(f"{address} {what}: it is not a Ray cluster. Give the address `ray start --head` printed "
                         f"on the head (HOST:6379 unless it was given another --port; not the dashboard's 8265), "
                         f"or unset {RAY_ADDRESS_ENV} to train on this machine's cores.")


_HTTP2_GREETING = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # preface, empty SETTINGS
_HTTP2_SETTINGS = 4  # the frame type an HTTP/2 server's first frame has (RFC 9113, 3.4)


def _http2_answer(connection: socket.socket, seconds: float) -> bytes:
    """The first 9 bytes (a frame header) the server at ``connection`` sends back to the HTTP/2 greeting;
    fewer if it closes or stays silent for ``seconds``."""
    connection.settimeout(seconds)
    answer = b""
    try:
        connection.sendall(_HTTP2_GREETING)
        while len(answer) < 9:
            part = connection.recv(9 - len(answer))
            if not part:
                break
            answer += part
    except (TimeoutError, ConnectionError):
        pass
    return answer


def _cause(error: Exception) -> str:
    cause = getattr(error, "cause", None)
    return f"{type(cause).__name__}: {cause}" if cause is not None else str(error).splitlines()[0]
