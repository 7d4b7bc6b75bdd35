"""Config section ``[models]``: who may write a model artifact (``quantbot model train``).
Part of the one tree in ``quantbot.config.schema``.

Training never runs inside the daemon: a sleeve only loads a verified artifact, once, at
start. ``quantbot model train`` writes one; with this config it refuses to when the config's
``state_dir`` has go-live enabled (a live config: never), while a daemon holds that state
dir's lock, and, unless ``allow_training_in_paper`` is true, when ``--out`` is an artifact
directory one of the config's sleeves loads ("training in paper": replacing the model a paper
run trades on). A directory no sleeve of the config loads (research) is always allowed.
"""

from __future__ import annotations

import attrs

from quantbot.config.loader import setting


@attrs.frozen
class ModelsConfig:
    allow_training_in_paper: bool = setting(False)
