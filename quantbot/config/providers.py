"""Config section ``[providers]``: what a DISABLE_PROVIDER verdict of the error classifier
(``ops/errors``: a provider's reply no longer has the expected shape) does. Read by
``ops/providers``."""

from __future__ import annotations

import attrs

from quantbot.config.loader import setting


@attrs.frozen
class ProvidersConfig:
    # A disabled provider (a dependency such as broker_submit, data_primary, quotes_primary)
    # is refused for this long, then re-enabled by itself: PROVIDER_DISABLED while it lasts.
    disable_s: float = setting(300.0, gt=0)
