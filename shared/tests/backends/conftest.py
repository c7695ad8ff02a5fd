"""Bus fixtures: every bus contract test runs on the in-process bus, NATS and Kafka."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from access_common.backends.bus import Bus
from access_common.backends.kafka_bus import KafkaBus
from access_common.backends.memory_bus import MemoryBus
from access_common.backends.nats_bus import NatsBus
from access_common.testing import backend_url

BusFactory = Callable[[], Awaitable[Bus]]

# Kafka topics the tests create get three partitions, so every test also proves that a
# broadcast reader sees all partitions (the known trap) and that keys keep their order.
KAFKA_TEST_PARTITIONS = 3


def _make_bus(engine: str) -> Bus:
    if engine == "memory":
        return MemoryBus()
    if engine == "nats":
        return NatsBus(backend_url("nats"))
    return KafkaBus(backend_url("kafka"), partitions=KAFKA_TEST_PARTITIONS)


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("nats", marks=pytest.mark.nats),
        pytest.param("kafka", marks=pytest.mark.kafka),
    ]
)
async def bus_factory(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """Make started buses of one engine (several = several service instances)."""
    engine: str = request.param
    made: list[Bus] = []

    async def factory() -> Bus:
        bus = _make_bus(engine)
        made.append(bus)
        await bus.start()
        return bus

    yield factory
    for bus in made:
        await bus.close()


@pytest.fixture
async def bus(bus_factory: BusFactory) -> Bus:
    """A started bus of the engine under test."""
    return await bus_factory()


@pytest.fixture
def topic() -> str:
    """A topic no other test uses (one NATS stream holds them all: ACCESS_BUSTEST)."""
    return f"bustest.{uuid.uuid4().hex}"
