"""``[compaction]``: when the daemon compacts its order journal (``oms.compaction``).

At start-up, when at least ``min_events`` events were journaled since the last snapshot, the
journal is archived (a hard link under ``state/journal.archive/``) and replaced by one
``SNAPSHOT`` line plus the events of its last ``keep_hours`` (journal time): start-up then
reads what happened since the last start, not the whole history. While the daemon runs, the
same is done at each trading-day roll and every ``min_events`` events
(``oms.running_compaction``).
"""

from __future__ import annotations

import attrs

from quantbot.config.loader import setting


@attrs.frozen
class CompactionConfig:
    enabled: bool = setting(True)
    min_events: int = setting(20_000, ge=1)
    keep_hours: float = setting(48.0, ge=0)
