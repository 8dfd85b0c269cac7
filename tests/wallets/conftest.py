"""Shared fixtures for the wallet tests: identities with cheap scrypt, fixed actors."""

from __future__ import annotations

import pytest

from wallets.identity import Identity

#: scrypt cost for tests only (the library default is 2**18, geth's "standard").
TEST_SCRYPT_N = 2**10


@pytest.fixture(scope="session")
def scrypt_n() -> int:
    return TEST_SCRYPT_N


@pytest.fixture(scope="session")
def resident() -> Identity:
    return Identity.create()


@pytest.fixture(scope="session")
def other_resident() -> Identity:
    return Identity.create()


@pytest.fixture(scope="session")
def department() -> Identity:
    return Identity.create()


@pytest.fixture(scope="session")
def other_department() -> Identity:
    return Identity.create()


@pytest.fixture(scope="session")
def issuer() -> Identity:
    return Identity.create()
