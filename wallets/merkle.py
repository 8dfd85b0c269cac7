"""OpenZeppelin's ``StandardMerkleTree`` (``@openzeppelin/merkle-tree`` 1.0.x), in Python.

The algorithm, exactly as the JavaScript library and ``MerkleProof.sol`` define it:

- leaf hash = ``keccak256(keccak256(abi.encode(leafEncoding, value)))`` — hashing
  twice keeps a leaf from ever being read as an inner node (64-byte preimage);
- leaves sorted ascending by hash (``sortLeaves``, the default);
- the tree in array form: ``2n - 1`` nodes, leaves filling the end in reverse
  order, node ``i`` = ``hashPair(tree[2i + 1], tree[2i + 2])``, root at index 0;
- ``hashPair(a, b) = keccak256(sorted(a, b))``, so proofs carry no left/right flags
  and ``processProof`` is a fold of ``hashPair`` over the siblings.

``tests/wallets/test_merkle.py`` checks roots, whole trees and proofs against
vectors that ``scripts/vectors/merkle.mjs`` computes with the JavaScript library.
Multiproofs are not implemented (no flow needs them yet).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from ledger.codec import from_hex, to_hex
from wallets.errors import InvalidProof

NODE_LENGTH = 32

ProofLike = Sequence[bytes | str]


def standard_leaf_hash(leaf_encoding: Sequence[str], value: Sequence[Any]) -> bytes:
    """``keccak256(keccak256(abi.encode(types, value)))``; hex strings accepted for bytes."""
    if len(leaf_encoding) != len(value):
        raise ValueError("leaf value does not match the leaf encoding")
    values = [_abi_value(t, v) for t, v in zip(leaf_encoding, value, strict=True)]
    return bytes(keccak(keccak(encode(list(leaf_encoding), values))))


def standard_node_hash(a: bytes, b: bytes) -> bytes:
    """``keccak256`` of the two children in ascending byte order."""
    return bytes(keccak(b"".join(sorted((a, b)))))


def make_merkle_tree(leaves: Sequence[bytes]) -> list[bytes]:
    """The array-form tree over already-hashed (and already-ordered) leaves."""
    if not leaves:
        raise ValueError("expected a non-zero number of leaves")
    for leaf in leaves:
        _check_node(leaf)
    size = 2 * len(leaves) - 1
    tree: list[bytes] = [b""] * size
    for i, leaf in enumerate(leaves):
        tree[size - 1 - i] = bytes(leaf)
    for i in range(size - 1 - len(leaves), -1, -1):
        tree[i] = standard_node_hash(tree[2 * i + 1], tree[2 * i + 2])
    return tree


def get_proof(tree: Sequence[bytes], index: int) -> list[bytes]:
    """Siblings from the leaf at ``index`` up to (not including) the root."""
    if not 0 <= index < len(tree) or 2 * index + 1 < len(tree):
        raise ValueError("index is not a leaf")
    proof: list[bytes] = []
    while index > 0:
        sibling = index + 1 if index % 2 else index - 1
        proof.append(tree[sibling])
        index = (index - 1) // 2
    return proof


def process_proof(leaf_hash: bytes | str, proof: ProofLike) -> bytes:
    """The root that ``proof`` leads to from ``leaf_hash`` (``MerkleProof.processProof``)."""
    node = _node(leaf_hash)
    for sibling in proof:
        node = standard_node_hash(node, _node(sibling))
    return node


def verify_proof(root: bytes | str, leaf_hash: bytes | str, proof: ProofLike) -> bool:
    """Whether ``proof`` leads from ``leaf_hash`` to ``root``.

    A malformed node (not 32 bytes, not hex) raises :class:`InvalidProof`.
    """
    return process_proof(leaf_hash, proof) == _node(root)


def verify_standard_proof(
    root: bytes | str, leaf_encoding: Sequence[str], value: Sequence[Any], proof: ProofLike
) -> bool:
    """OZ's static ``StandardMerkleTree.verify``: hash the leaf value, then :func:`verify_proof`."""
    return verify_proof(root, standard_leaf_hash(leaf_encoding, value), proof)


class StandardMerkleTree:
    """A built tree: its nodes, the values in input order, and where each value sits."""

    def __init__(
        self,
        tree: Sequence[bytes],
        values: Sequence[tuple[tuple[Any, ...], int]],
        leaf_encoding: Sequence[str],
    ) -> None:
        self._tree = tuple(tree)
        self._values = tuple((tuple(value), index) for value, index in values)
        self._leaf_encoding = tuple(leaf_encoding)
        self._lookup = {self._tree[index]: i for i, (_, index) in enumerate(self._values)}

    @classmethod
    def of(
        cls,
        values: Sequence[Sequence[Any]],
        leaf_encoding: Sequence[str],
        *,
        sort_leaves: bool = True,
    ) -> StandardMerkleTree:
        hashed = [(standard_leaf_hash(leaf_encoding, v), i) for i, v in enumerate(values)]
        if sort_leaves:
            hashed.sort(key=lambda item: item[0])  # stable, as JavaScript's sort
        tree = make_merkle_tree([h for h, _ in hashed])
        tree_index = [0] * len(values)
        for leaf_index, (_, value_index) in enumerate(hashed):
            tree_index[value_index] = len(tree) - 1 - leaf_index
        return cls(tree, [(tuple(v), tree_index[i]) for i, v in enumerate(values)], leaf_encoding)

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> StandardMerkleTree:
        """Read OZ's ``dump()`` format (``standard-v1``) and validate every node."""
        if data.get("format") != "standard-v1" or "leafEncoding" not in data:
            raise ValueError("not a standard-v1 Merkle tree dump")
        tree = [_node(node) for node in data["tree"]]
        values = [(tuple(entry["value"]), int(entry["treeIndex"])) for entry in data["values"]]
        loaded = cls(tree, values, data["leafEncoding"])
        loaded.validate()
        return loaded

    @property
    def root(self) -> bytes:
        return self._tree[0]

    @property
    def tree(self) -> tuple[bytes, ...]:
        return self._tree

    @property
    def leaf_encoding(self) -> tuple[str, ...]:
        return self._leaf_encoding

    def __len__(self) -> int:
        return len(self._values)

    def at(self, index: int) -> tuple[Any, ...]:
        return self._values[index][0]

    def leaf_hash(self, value: Sequence[Any]) -> bytes:
        return standard_leaf_hash(self._leaf_encoding, value)

    def leaf_lookup(self, value: Sequence[Any]) -> int:
        """The input index of ``value``; ``ValueError`` if it is not in the tree."""
        try:
            return self._lookup[self.leaf_hash(value)]
        except KeyError:
            raise ValueError("leaf is not in tree") from None

    def get_proof(self, leaf: int | Sequence[Any]) -> list[bytes]:
        """The proof for the value at input index ``leaf`` (or for the value itself)."""
        index = leaf if isinstance(leaf, int) else self.leaf_lookup(leaf)
        value, tree_index = self._values[index]
        proof = get_proof(self._tree, tree_index)
        if not verify_proof(self.root, self.leaf_hash(value), proof):  # OZ's sanity check
            raise AssertionError("unable to prove value")
        return proof

    def verify(self, leaf: int | Sequence[Any], proof: ProofLike) -> bool:
        value = self._values[leaf][0] if isinstance(leaf, int) else leaf
        return verify_proof(self.root, self.leaf_hash(value), proof)

    def validate(self) -> None:
        """Every value hashes to its node and every inner node to its children."""
        for value, index in self._values:
            if not 0 <= index < len(self._tree) or self._tree[index] != self.leaf_hash(value):
                raise ValueError("Merkle tree does not contain the expected value")
        for i in range(len(self._tree)):
            left, right = 2 * i + 1, 2 * i + 2
            if right < len(self._tree):
                if self._tree[i] != standard_node_hash(self._tree[left], self._tree[right]):
                    raise ValueError("Merkle tree is invalid")
            elif left < len(self._tree):
                raise ValueError("Merkle tree is invalid")

    def dump(self) -> dict[str, Any]:
        """OZ's ``standard-v1`` JSON: bytes as 0x-hex, integers as decimal strings."""
        return {
            "format": "standard-v1",
            "leafEncoding": list(self._leaf_encoding),
            "tree": [to_hex(node) for node in self._tree],
            "values": [
                {"value": [_json_value(v) for v in value], "treeIndex": index}
                for value, index in self._values
            ],
        }


def _check_node(node: bytes) -> None:
    if not isinstance(node, bytes) or len(node) != NODE_LENGTH:
        raise ValueError("Merkle tree nodes must be 32 bytes")


def _node(node: bytes | str) -> bytes:
    try:
        raw = from_hex(node, length=NODE_LENGTH, what="Merkle node")
    except ValueError as exc:
        raise InvalidProof(str(exc)) from exc
    return raw


def _abi_value(abi_type: str, value: Any) -> Any:
    """Accept JSON-friendly forms (0x-hex for bytes, decimal strings for integers)."""
    if abi_type.endswith("[]"):
        return [_abi_value(abi_type[:-2], item) for item in value]
    if abi_type.startswith("bytes"):
        size = int(abi_type[5:]) if abi_type != "bytes" else None
        return from_hex(value, length=size, what=abi_type)
    if abi_type.startswith(("uint", "int")) and isinstance(value, str):
        return int(value, 0)
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return to_hex(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value
