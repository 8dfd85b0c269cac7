"""Client-side keys, keystores, record encryption, key wrapping and intent signing.

Modules (each small, each importable on its own):

- :mod:`wallets.errors` — ``WalletError`` and its hierarchy.
- :mod:`wallets.identity` — ``Identity``: signing key + HPKE keys; create, save, load,
  import/export of Web3 Secret Storage v3 keystores (formats in :mod:`wallets.keystore`).
- :mod:`wallets.signing` — sign, recover and hash the EIP-712 intents of
  :mod:`ledger.intents`.
- :mod:`wallets.key_wrap` — HPKE (RFC 9180) wrapping of field keys.
- :mod:`wallets.field_cipher` — AES-256-GCM encryption of one field value.
- :mod:`wallets.merkle` — OpenZeppelin ``StandardMerkleTree``.
- :mod:`wallets.record` — ``RecordVersion``: envelopes, root, proofs, ``restore``.
- :mod:`wallets.grants` — wrapping keys for a department; opening query answers.
- :mod:`wallets.attestation` — issuer commitments, ``Attest`` signing and verification.
- :mod:`wallets.rotation` — new record version and re-wrapped keys after a revocation.
"""
