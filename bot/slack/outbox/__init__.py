"""The Slack outbox: posts queued messages in order per channel, exactly once as seen.

Every post is a row in `outbox` before it is made. The worker marks a row in flight before the
call and done only when Slack said ok. A row found in flight at pick-up (the process died, or
the answer was lost) is looked for in the channel or thread by the outbox id carried in the
message metadata before it is posted again, so a reply is never doubled.

Each channel has two streams, paced apart because Slack limits the two methods apart:
`chat.postMessage` (parent and replies, in id order, one a `slack_post_interval` per channel)
and `chat.update` of the parent (Tier 3, not the per-channel posting limit). An update goes
after the posts queued before it in its channel, as before, but takes no posting turn: it is
re-rendered from the database when made, so no post waits for it. Each stream's head is posted
as soon as its stream may go, beside the others (up to STREAMS_IN_FLIGHT at once): no stream
waits for another's post to finish.

The worker (passes, pacing, retries, setting aside) is in `worker`, the post of each kind of
row in `posting`, its Slack calls (errors sorted, the metadata look-up, private answers) in
`calls`, and the shared commit of the marks in `commit`.
"""

from __future__ import annotations

from bot.slack.outbox.worker import OutboxWorker

__all__ = ["OutboxWorker"]
