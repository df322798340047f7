"""EVENTSUB_TRANSPORT=conduit: one app conduit; each worker's EventSub WebSocket session is a shard."""
