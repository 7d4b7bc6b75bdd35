"""Notifications: what the operator is told, on the channels ``[notify]`` enables.

- ``digest``: the run's feed items (``ops.feed``) turned into one-line notices (fills, closed
  round trips with PnL after costs, halts, alerts, kill and resume, start and stop, the daily
  summary at the day roll);
- ``outbox``: each channel's bounded queue, its drop rule and its batches;
- ``channels``: the three wire formats (generic webhook, Telegram ``sendMessage``, Discord
  webhook) and where their secrets come from (the environment only);
- ``sender``: one task per channel that posts, rate-limited, behind its own breaker;
- ``view``: ``NotifyView``, the operator view that ties them to a run.
"""
