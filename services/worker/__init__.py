"""The worker: consumes the outbox, computes rollups, delivers webhooks, runs the sweep.

How an event travels
--------------------
1. A request (or the sweep, or a consumer) commits a change together with its
   ``outbox_events`` row (:func:`shared.events.record_change`).
2. Right after the commit the API publishes the event id to the broker
   (:class:`shared.broker.OutboxPublisher`) and marks the row dispatched.
   If that fails (crash, broker down), the relay (:mod:`services.worker.relay`)
   re-publishes rows still undispatched after a short delay.
3. The relay, one at a time, gives committed events their feed ``position``
   (the order of ``GET /v1/events``).
4. The ``events.process`` actor (:mod:`services.worker.actors`) runs every
   handler registered for the event's type (:mod:`services.worker.dispatch`),
   each in its own transaction with a ``processed_events`` row, so a
   redelivered event is skipped by handlers that already ran. Events a busy
   process is handed together share those transactions
   (:class:`services.worker.consumer.EventBatcher`); a failed batch is redone
   event by event. A message that fails every retry lands in
   ``dead_letters`` (``accords dead-letters``).

Registering a handler
---------------------
A handler is a :class:`services.worker.dispatch.Handler`: a name (the
consumer name of its ``processed_events`` rows), event type prefixes (``""``
= every event) and an ``async def run(session, event)`` taking the session of
its transaction and the :class:`shared.models.OutboxEvent`. It flushes,
never commits; events it records are published after its commit.

Nothing registers at import. :func:`services.worker.handlers.register_handlers`
adds the handlers (and installs the session listeners they need) when a
worker process boots (:class:`services.worker.runtime.PipelineRuntime`, used
by ``accords worker`` and the embedded pipeline of ``accords dev``); add a new
handler to the tuple there.
"""
