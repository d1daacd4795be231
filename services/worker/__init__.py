"""The worker: consumes the outbox, computes rollups, runs the sweep.

How an event travels
--------------------
1. A request (or the sweep, or a consumer) commits a change together with its
   ``outbox_events`` row (:func:`shared.events.record_change`).
2. Right after the commit the API publishes the event id to the broker
   (:class:`shared.broker.Publisher`) and marks the row dispatched.
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

Registering a handler (webhook fan-out and others)
--------------------------------------------------
A handler is an ``async def handler(session, event)`` taking the session of
its transaction and the :class:`shared.models.OutboxEvent`. It flushes,
never commits; events it records are published after its commit. Register it
with the decorator, keyed by event type prefixes (``""`` = every event)::

    from services.worker.dispatch import on_event

    @on_event("", name="webhooks.fan_out")
    async def fan_out(session, event): ...

and make sure its module is listed in
:data:`services.worker.dispatch.HANDLER_MODULES` (``services.worker.webhooks``
already is), which the worker and ``accords dev`` import at start-up.
"""
