"""Which JetStream stream stores each topic: an existing one, else one the bus creates."""

from __future__ import annotations

import contextlib
import logging

import nats.js.errors
from nats.js import JetStreamContext, api

from access_common.backends._nats.codec import DRIVER_ERRORS, INVALID_NAME, check_topic, error
from access_common.backends._nats.connection import Connection

__all__ = ["Streams", "ensure_named_stream"]

logger = logging.getLogger("access_common.bus.nats")


class Streams:
    """The stream of each topic, looked up (or created) once and then remembered."""

    def __init__(
        self,
        connection: Connection,
        *,
        prefix: str,
        max_age: float,
        max_bytes: int,
        replicas: int,
    ) -> None:
        self._connection = connection
        self._prefix = INVALID_NAME.sub("_", prefix)
        self._max_age = max_age
        self._max_bytes = max_bytes
        self.replicas = replicas
        self._streams: dict[str, str] = {}

    def __contains__(self, topic: object) -> bool:
        return topic in self._streams

    def remember(self, topic: str, stream: str) -> None:
        """Store ``topic`` in ``stream`` from now on (the caller made sure it captures it)."""
        self._streams[topic] = stream

    def forget(self, topic: str) -> None:
        """Look the topic's stream up again on next use (it was removed under us)."""
        self._streams.pop(topic, None)

    async def stream_for(self, topic: str) -> str:
        """The name of the stream that stores ``topic``, creating one if none does."""
        stream = self._streams.get(topic)
        if stream is not None:
            return stream
        check_topic(topic)
        js = self._connection.js_required()
        try:
            try:
                stream = await js.find_stream_name_by_subject(topic)
            except nats.js.errors.NotFoundError:
                stream = await self._create(js, topic)
        except DRIVER_ERRORS as exc:
            raise error("stream lookup", exc) from exc
        self._streams[topic] = stream
        return stream

    async def _create(self, js: JetStreamContext, topic: str) -> str:
        first = topic.split(".", 1)[0]
        name = f"{self._prefix}_{INVALID_NAME.sub('_', first).upper()}"
        subjects = [first, f"{first}.>"]
        try:
            await js.add_stream(
                name=name,
                subjects=subjects,
                storage=api.StorageType.FILE,
                retention=api.RetentionPolicy.LIMITS,
                discard=api.DiscardPolicy.OLD,
                max_age=self._max_age,
                max_bytes=self._max_bytes,
                num_replicas=self.replicas,
            )
        except nats.js.errors.BadRequestError:
            # A concurrent creator won, or the name is taken by first tokens that differ
            # only in case: look again, then widen the named stream's subjects.
            with contextlib.suppress(nats.js.errors.NotFoundError):
                return await js.find_stream_name_by_subject(topic)
            info = await js.stream_info(name)
            config = info.config
            config.subjects = sorted({*(config.subjects or []), *subjects})
            await js.update_stream(config)
        logger.info("created stream %s for %s", name, topic)
        return name


async def ensure_named_stream(
    js: JetStreamContext,
    name: str,
    subjects: list[str],
    *,
    max_age: float,
    max_bytes: int,
    duplicate_window: float,
    replicas: int,
) -> dict[str, str]:
    """Make sure ``subjects`` are stored, in stream ``name`` unless another already has them.

    Returns the stream that stores each subject. A subject some other stream captures
    stays there (an operator's layout wins); the others go into ``name``, created with
    the given limits or widened to take them.
    """
    found: dict[str, str] = {}
    wanted: list[str] = []
    for subject in subjects:
        check_topic(subject)
        try:
            found[subject] = await js.find_stream_name_by_subject(subject)
        except nats.js.errors.NotFoundError:
            wanted.append(subject)
    if not wanted:
        return found
    try:
        info = await js.stream_info(name)
    except nats.js.errors.NotFoundError:
        await js.add_stream(
            name=name,
            subjects=wanted,
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            discard=api.DiscardPolicy.OLD,
            max_age=max_age,
            max_bytes=max_bytes,
            duplicate_window=duplicate_window,
            num_replicas=replicas,
        )
        logger.info("created stream %s for %s", name, ", ".join(wanted))
    else:
        config = info.config
        config.subjects = sorted({*(config.subjects or []), *wanted})
        await js.update_stream(config)
        logger.info("stream %s now also stores %s", name, ", ".join(wanted))
    return {**found, **dict.fromkeys(wanted, name)}
