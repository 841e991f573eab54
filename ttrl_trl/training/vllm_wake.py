"""One vLLM wake per vote: the vote's extra generation calls without a weight sync each (colocate, sleep mode).

TRL 1.16's colocated vLLM with ``vllm_enable_sleep_mode`` puts the engine to sleep at level 2 after
every ``VLLMGeneration.generate`` call (weights and KV cache discarded), and the next call wakes it
and pushes the full weights again (``generate`` -> ``sync_weights``: ``wake_up(["weights"])`` and
one ``load_weights`` per tensor). A vote drawn in several calls (adaptive rounds, or
``vote_rounds_per_call`` below the number of rounds) would pay one full weight sync per call,
although the weights cannot change within a vote. :func:`one_wake` keeps the engine awake from
the vote's first call to its last: the sleeps TRL asks for are deferred to the end of the vote,
wakes of what is already awake are skipped, and TRL's "weights sleeping" flag is cleared before
each further call, so the weights are pushed once per vote, as for a single call. Between the
calls the engine holds what it holds during a call (its weights and KV cache), nothing more.
Server mode and colocate without sleep mode never re-sync within a step: nothing to do there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_ALL = "*"  # vLLM's wake_up(tags=None): every tag


@contextmanager
def one_wake(generation: Any) -> Iterator[Callable[[F], F]]:
    """Within the block, a colocated sleeping vLLM engine stays awake between generation calls.

    Yields ``wrap``: wrap the function that makes the vote's generation calls with it. ``generation``
    is TRL's ``VLLMGeneration`` (or ``None`` without vLLM: then nothing changes).
    """
    if generation is None or generation.mode != "colocate" or not generation.enable_sleep_mode:
        yield lambda fn: fn
        return
    llm = generation.llm
    saved = {name: vars(llm)[name] for name in ("sleep", "wake_up") if name in vars(llm)}
    real_sleep, real_wake = llm.sleep, llm.wake_up
    awake: set[str] = set()
    deferred: list[int] = []

    def wake_up(tags: list[str] | None = None) -> None:
        todo = [_ALL] if tags is None else [tag for tag in tags if tag not in awake]
        if _ALL in awake or not todo:
            return
        real_wake(tags=None if tags is None else todo)
        awake.update(todo)

    def sleep(level: int = 1) -> None:
        deferred.append(level)

    def wrap(fn: F) -> F:
        @wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            if deferred:  # TRL marked the weights asleep after the last call; they are not
                generation._llm_weights_sleeping = False
            return fn(*args, **kwargs)

        return call  # type: ignore[return-value]

    llm.sleep, llm.wake_up = sleep, wake_up
    try:
        yield wrap
    finally:
        for name in ("sleep", "wake_up"):
            if name in saved:
                setattr(llm, name, saved[name])
            else:
                delattr(llm, name)
        if deferred:  # what TRL's last call would have done
            real_sleep(level=max(deferred))
            generation._llm_weights_sleeping = True
