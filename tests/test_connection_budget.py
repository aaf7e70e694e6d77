"""The storm tests' servers fit in what PostgreSQL has left (issue 13 item 12): their pools
are sized to the free connection slots, and too few slots end the test in one line."""

import pytest

from .concurrency.servers import (
    DEFAULT_OVERFLOW,
    DEFAULT_POOL,
    MIN_CONNECTIONS_PER_PROCESS,
    TEST_PROCESS_CONNECTIONS,
    free_connection_slots,
    pool_environment,
    pool_sizes,
)


def test_a_roomy_server_gets_the_default_pools() -> None:
    assert pool_sizes(1000, 3, 2) == (DEFAULT_POOL, DEFAULT_OVERFLOW)


@pytest.mark.parametrize("processes", [1, 2, 4])
@pytest.mark.parametrize("in_use", [0, 40, 70, 85])
def test_pools_never_ask_for_more_than_is_free(in_use: int, processes: int) -> None:
    allowed = 97  # max_connections 100, 3 reserved for superusers
    sizes = pool_sizes(allowed, in_use, processes)
    free = allowed - in_use - TEST_PROCESS_CONNECTIONS
    if free // processes < MIN_CONNECTIONS_PER_PROCESS:
        assert isinstance(sizes, str)
        assert "free connection slots" in sizes
        assert "\n" not in sizes
    else:
        assert not isinstance(sizes, str)
        pool, overflow = sizes
        assert pool >= 1
        assert overflow >= 0
        assert processes * (pool + overflow) <= free


def test_the_servers_own_numbers_give_working_pools(database_url: str) -> None:
    environment = pool_environment(database_url, 2)
    if database_url.startswith("sqlite"):
        assert environment == {}
        return
    allowed, in_use = free_connection_slots(database_url)
    assert 0 < in_use <= allowed
    assert 1 <= int(environment["OFFERDESK_DB_POOL_SIZE"]) <= DEFAULT_POOL
    assert 0 <= int(environment["OFFERDESK_DB_MAX_OVERFLOW"]) <= DEFAULT_OVERFLOW
