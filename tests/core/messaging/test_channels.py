"""The messaging port's channels: the same contract from memory and from Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from backend.core.config.sections import RedisConfig
from backend.core.messaging import (
    MemoryMessaging,
    Messaging,
    RedisMessaging,
    Subscription,
    create_messaging,
)
from tests.core.messaging.conftest import Pair

WAIT = 5.0


class Inbox:
    """A message handler that queues what it hears."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[str] = asyncio.Queue()

    def __call__(self, message: str) -> None:
        self.messages.put_nowait(message)

    async def next(self) -> str:
        """The next message."""
        return await asyncio.wait_for(self.messages.get(), WAIT)


async def _started(
    messaging: Messaging, channels: list[str], inbox: Callable[[str], None]
) -> Subscription:
    subscription = messaging.subscribe(channels, inbox, name="contract")
    await subscription.start()
    await asyncio.wait_for(subscription.listening.wait(), WAIT)
    return subscription


async def test_a_message_reaches_the_other_endpoint_and_is_counted(pair: Pair) -> None:
    here, there = pair
    inbox = Inbox()
    subscription = await _started(there, ["news"], inbox)
    try:
        assert await here.publish("news", "hello") == 1
        assert await inbox.next() == "hello"
        assert await here.publish("elsewhere", "nobody") == 0  # no subscription: nobody heard
    finally:
        await subscription.stop()


async def test_messages_published_together_arrive_in_order_on_each_channel(pair: Pair) -> None:
    here, there = pair
    inbox = Inbox()
    subscription = await _started(there, ["a", "b"], inbox)
    try:
        await here.publish_many([("a", "1"), ("b", "2"), ("a", "3"), ("c", "not heard")])
        assert [await inbox.next() for _ in range(3)] == ["1", "2", "3"]
        await here.publish("a", "4")
        assert await inbox.next() == "4"  # "not heard" on channel c did not arrive before it
    finally:
        await subscription.stop()


async def test_a_failing_handler_is_logged_and_the_subscription_goes_on(pair: Pair) -> None:
    here, there = pair
    inbox = Inbox()

    def handler(message: str) -> None:
        if message == "bad":
            raise RuntimeError("handler bug")
        inbox(message)

    subscription = await _started(there, ["news"], handler)
    try:
        await here.publish("news", "bad")
        await here.publish("news", "good")
        assert await inbox.next() == "good"
    finally:
        await subscription.stop()


async def test_a_stopped_subscription_is_told_and_hears_nothing_more(pair: Pair) -> None:
    here, there = pair
    inbox = Inbox()
    notices: list[str] = []
    subscription = there.subscribe(
        ["news"],
        inbox,
        name="contract",
        on_subscribed=lambda: notices.append("subscribed"),
        on_lost=lambda: notices.append("lost"),
    )
    await subscription.start()
    await asyncio.wait_for(subscription.listening.wait(), WAIT)
    assert notices == ["subscribed"]
    await subscription.stop()
    assert not subscription.listening.is_set()
    assert notices == ["subscribed", "lost"]
    await here.publish("news", "after")
    assert inbox.messages.empty()


async def test_one_process_alone_is_not_shared_and_hears_nothing_back() -> None:
    """The embedded default: publishers deliver to themselves; nobody else is there."""
    alone, inbox = MemoryMessaging(), Inbox()
    subscription = await _started(alone, ["news"], inbox)
    try:
        assert alone.shared is False
        assert await alone.publish("news", "echo?") == 0
        assert inbox.messages.empty()
    finally:
        await subscription.stop()


async def test_the_backend_is_chosen_once_from_the_redis_url() -> None:
    assert isinstance(create_messaging(RedisConfig()), MemoryMessaging)
    chosen = create_messaging(RedisConfig(url="redis://127.0.0.1:1/0"))
    try:
        assert isinstance(chosen, RedisMessaging)
        assert chosen.shared is True
    finally:
        await chosen.close()
