"""StandardMerkleTree: roots, whole trees and proofs equal @openzeppelin/merkle-tree's."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.wallets.known_answers import PROPERTY, hex_bytes, load, params, run_node_script
from wallets.errors import InvalidProof
from wallets.merkle import (
    StandardMerkleTree,
    get_proof,
    make_merkle_tree,
    process_proof,
    standard_leaf_hash,
    verify_proof,
    verify_standard_proof,
)
from wallets.record import LEAF_ENCODING, record_tree

CASES = params("merkle", "cases")


def build(case: dict[str, Any]) -> StandardMerkleTree:
    sort = case["options"].get("sortLeaves", True)
    return StandardMerkleTree.of(case["values"], case["leafEncoding"], sort_leaves=sort)


@pytest.mark.parametrize("case", CASES)
def test_root_and_whole_tree_equal_openzeppelin(case: dict[str, Any]) -> None:
    tree = build(case)
    assert tree.root == hex_bytes(case["root"])
    assert [node for node in tree.tree] == [hex_bytes(n) for n in case["dump"]["tree"]]
    ours = [entry["treeIndex"] for entry in tree.dump()["values"]]
    assert ours == [entry["treeIndex"] for entry in case["dump"]["values"]]


@pytest.mark.parametrize("case", CASES)
def test_every_leaf_hash_and_proof_equal_openzeppelin(case: dict[str, Any]) -> None:
    tree = build(case)
    for expected in case["proofs"]:
        index = expected["index"]
        assert tree.leaf_hash(case["values"][index]) == hex_bytes(expected["leafHash"])
        assert tree.get_proof(index) == [hex_bytes(p) for p in expected["proof"]]
        assert tree.verify(index, expected["proof"])
        assert verify_standard_proof(
            case["root"], case["leafEncoding"], case["values"][index], expected["proof"]
        )


@pytest.mark.parametrize("case", CASES)
def test_openzeppelin_dump_loads_and_validates(case: dict[str, Any]) -> None:
    loaded = StandardMerkleTree.load(case["dump"])
    assert loaded.root == hex_bytes(case["root"])
    assert len(loaded) == len(case["values"])


RECORD_CASES = [c for c in CASES if "ciphertexts" in c.values[0]]


@pytest.mark.parametrize("case", RECORD_CASES)
def test_record_tree_from_ciphertexts_equals_openzeppelin(case: dict[str, Any]) -> None:
    ciphertexts = {name: hex_bytes(ct) for name, ct in case["ciphertexts"].items()}
    assert record_tree(ciphertexts).root == hex_bytes(case["root"])
    assert case["leafEncoding"] == list(LEAF_ENCODING)


@pytest.mark.slow
def test_node_script_reproduces_committed_merkle_vectors() -> None:
    assert run_node_script("merkle.mjs") == load("merkle")


leaves = st.lists(
    st.tuples(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32)),
    min_size=1,
    max_size=24,
    unique=True,
)


@PROPERTY
@given(values=leaves)
def test_every_leaf_has_a_proof_that_verifies(values: list[tuple[bytes, bytes]]) -> None:
    tree = StandardMerkleTree.of(values, LEAF_ENCODING)
    for index, value in enumerate(values):
        proof = tree.get_proof(index)
        assert verify_standard_proof(tree.root, LEAF_ENCODING, value, proof)
        assert tree.get_proof(value) == proof


@PROPERTY
@given(values=leaves, data=st.data())
def test_tampered_leaf_or_proof_fails_to_verify(
    values: list[tuple[bytes, bytes]], data: st.DataObject
) -> None:
    tree = StandardMerkleTree.of(values, LEAF_ENCODING)
    index = data.draw(st.integers(0, len(values) - 1))
    proof = tree.get_proof(index)
    field_id, ciphertext_hash = values[index]
    flipped = bytes([ciphertext_hash[0] ^ 1]) + ciphertext_hash[1:]
    assert not verify_standard_proof(tree.root, LEAF_ENCODING, (field_id, flipped), proof)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[position] = bytes([bad[position][0] ^ 0x80]) + bad[position][1:]
        assert not verify_standard_proof(tree.root, LEAF_ENCODING, values[index], bad)
        assert not verify_standard_proof(tree.root, LEAF_ENCODING, values[index], proof[:-1])


def test_single_leaf_tree_has_the_leaf_hash_as_root_and_an_empty_proof() -> None:
    value = (b"\x01" * 32, b"\x02" * 32)
    tree = StandardMerkleTree.of([value], LEAF_ENCODING)
    assert tree.root == standard_leaf_hash(LEAF_ENCODING, value)
    assert tree.get_proof(0) == []


def test_empty_tree_is_refused() -> None:
    with pytest.raises(ValueError, match="non-zero number of leaves"):
        make_merkle_tree([])


def test_proof_of_an_inner_node_is_refused() -> None:
    tree = make_merkle_tree([b"\x01" * 32, b"\x02" * 32, b"\x03" * 32])
    with pytest.raises(ValueError, match="not a leaf"):
        get_proof(tree, 0)


@pytest.mark.parametrize("node", [b"\x01" * 31, "0x1234", "nothex", 7])
def test_malformed_proof_node_raises_invalid_proof(node: Any) -> None:
    with pytest.raises(InvalidProof):
        process_proof(b"\x01" * 32, [node])


def test_value_not_in_tree_is_refused_by_lookup() -> None:
    tree = StandardMerkleTree.of([(b"\x01" * 32, b"\x02" * 32)], LEAF_ENCODING)
    with pytest.raises(ValueError, match="not in tree"):
        tree.get_proof((b"\x03" * 32, b"\x02" * 32))


def test_verify_proof_accepts_hex_strings() -> None:
    values = [(bytes([i]) * 32, bytes([i + 1]) * 32) for i in range(3)]
    tree = StandardMerkleTree.of(values, LEAF_ENCODING)
    proof = ["0x" + p.hex() for p in tree.get_proof(1)]
    leaf = "0x" + standard_leaf_hash(LEAF_ENCODING, values[1]).hex()
    assert verify_proof("0x" + tree.root.hex(), leaf, proof)


def test_load_refuses_a_dump_whose_tree_was_altered() -> None:
    dump = load("merkle")["cases"][2]["dump"]
    altered = dict(dump, tree=[dump["tree"][1], *dump["tree"][1:]])
    with pytest.raises(ValueError, match=r"invalid|expected value"):
        StandardMerkleTree.load(altered)
