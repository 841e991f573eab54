"""Known, unfixable warnings are filtered by exact message at the entry points; anything else still shows."""

from __future__ import annotations

import warnings

import pytest

KNOWN = (
    "`is_gradient_checkpointing` is deprecated and will be removed in v6. Use `is_activation_checkpointing` instead."
)


def _warn_all() -> None:
    warnings.warn(KNOWN, FutureWarning, stacklevel=1)
    warnings.warn("`is_gradient_checkpointing` is deprecated", DeprecationWarning, stacklevel=1)  # other category
    warnings.warn("`something_else` is deprecated", FutureWarning, stacklevel=1)


@pytest.mark.parametrize("entry", ["train", "demo"])
def test_entry_points_filter_exactly_the_known_warning(entry, monkeypatch):
    if entry == "train":
        import ttrl_trl.train as module

        monkeypatch.setattr(module, "train", lambda argv: _warn_all())
        run = lambda: module.main([])  # noqa: E731
    else:
        from ttrl_trl.demo.run import DemoConfig, quiet_and_threads

        run = lambda: (quiet_and_threads(DemoConfig(threads="1")), _warn_all())  # noqa: E731
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run()
    assert [(type(w.message), str(w.message)) for w in caught] == [
        (DeprecationWarning, "`is_gradient_checkpointing` is deprecated"),
        (FutureWarning, "`something_else` is deprecated"),
    ]
