"""Whether a Hub model id can be loaded here, asked before any dataset, model or file.

``from_pretrained`` on an id that is neither cached nor reachable retries for half a minute, then
raises a 70-line traceback; offline (``HF_HUB_OFFLINE=1``) it fails the same way, only later. The
local cache answers at once, and one short request says whether the Hub knows the id.
"""

from __future__ import annotations

from pathlib import Path

from ttrl_trl.paths import looks_local

PROBE_TIMEOUT_S = 5.0
MODEL_FILES = ("config.json", "adapter_config.json")
NETWORK_WORDS = ("Connect", "Timeout", "Network", "Transport")
"""Words in the class names of the HTTP client's "no network" errors (httpx: ConnectError, NetworkError, ...)."""


def hub_model_error(model_id: str, field: str, revision: str | None = None) -> str | None:
    """The one-line error for a Hub model id that cannot be loaded here, else None.

    None for a local path (``ttrl_trl.paths`` checks those), an id in the local Hugging Face cache,
    or one the Hub answers for; a Hub failure other than "not found", "gated" or "unreachable" is
    left to ``from_pretrained`` to report.
    """
    if looks_local(model_id) or Path(model_id).expanduser().exists():
        return None
    from huggingface_hub import constants, try_to_load_from_cache

    if any(isinstance(try_to_load_from_cache(model_id, name, revision=revision), str) for name in MODEL_FILES):
        return None
    if constants.HF_HUB_OFFLINE:
        return (
            f"{field} {model_id!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set; download it "
            f"where there is network (`hf download {model_id}`) or pass a local model folder."
        )
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        HfApi().model_info(model_id, revision=revision, timeout=PROBE_TIMEOUT_S)
    except GatedRepoError:
        return (
            f"{field} {model_id!r} is a gated model: accept its licence on https://huggingface.co/{model_id} and "
            f"log in (`hf auth login`)."
        )
    except RepositoryNotFoundError:
        return (
            f"{field} {model_id!r} is not on the Hub (or is private: `hf auth login`), and no local folder has "
            f"that name; check the spelling."
        )
    except RevisionNotFoundError:
        return f"{field} {model_id!r} has no revision {revision!r} on the Hub; check `model_revision`."
    except Exception as err:  # no network: DNS, refused or timed-out connection (httpx's errors, or OSError)
        if isinstance(err, OSError) or any(
            word in cls.__name__ for cls in type(err).__mro__ for word in NETWORK_WORDS
        ):
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            return (
                f"{field} {model_id!r} is not in the local Hugging Face cache and the Hub cannot be reached "
                f"({type(err).__name__}: {reason}); connect, download it (`hf download {model_id}`), or pass a "
                f"local model folder."
            )
    return None
