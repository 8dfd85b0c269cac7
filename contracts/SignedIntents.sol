// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/**
 * @title SignedIntents
 * @dev Verification of EIP-712 intents shared by every ledger contract: the domain
 * (`ResidentConsentLedger`, version `1`, chain id, verifying contract), OpenZeppelin's
 * signature rules (65 bytes, low `s`, non-zero signer), a deadline and unordered nonces.
 *
 * Nonces are unordered (a bitmap per signer, as in Uniswap's Permit2): any unused
 * `uint256` is accepted once, so a signer may have many intents in flight. Nonces in
 * the same 256-wide word share one storage slot; wallets that count upwards pay the
 * cold 20k write once per 256 intents.
 *
 * Only relayers submit. A relayer has no authority of its own: every state change
 * needs the signature of the actor that holds it, and a batch refuses a bad intent on
 * its own ({IntentRejected}) without reverting the good ones ({_tryIntent}).
 *
 * Every intent's checks live in one function, {_checkIntent} (deadline, signature, signer,
 * nonce, in that order), and a signature is recovered in one place, {_recover}; an
 * EIP-2098 compact signature (a grant batch's compact layout) goes through the same steps,
 * rules and errors in {_intentErrorCompact}.
 * Single-intent functions revert with the first error ({_verify}, {_verifyAnySigner});
 * batch hot paths take it as data ({_intentError}) and emit it, writing nothing.
 *
 * A deadline may lie at most {MAX_DEADLINE_AHEAD} ahead of the executing block: an intent
 * cannot be made valid forever (a signature leaked years later stays harmless).
 */
abstract contract SignedIntents is EIP712 {
    /// @notice The furthest ahead of block time an intent's deadline may lie.
    uint256 public constant MAX_DEADLINE_AHEAD = 30 days;

    mapping(address signer => mapping(uint256 word => uint256 bits)) private _nonceBitmaps;

    /// @dev The intent's deadline has passed at the block that would execute it.
    error SignedIntentExpired(uint256 deadline, uint256 timestamp);
    /// @dev The intent's deadline lies beyond `latest`, block time plus {MAX_DEADLINE_AHEAD}.
    error SignedIntentDeadlineTooFar(uint256 deadline, uint256 latest);
    /// @dev The signer already used this nonce.
    error SignedIntentNonceUsed(address signer, uint256 nonce);
    /// @dev The signature recovers to another address than the one the intent names.
    error SignedIntentWrongSigner(address expected, address recovered);
    /// @dev The caller is neither a relayer nor this contract (batch self-calls).
    error SignedIntentUnauthorizedRelayer(address caller);
    /// @dev A batch's parallel arrays differ in length.
    error SignedIntentBatchLengthMismatch(uint256 intents, uint256 signatures);

    // OpenZeppelin's {ECDSA} errors, which a bad signature fails with. Declared here because
    // intents report them as data (see {_recover}), which would leave them out of the ABI.
    error ECDSAInvalidSignature();
    error ECDSAInvalidSignatureLength(uint256 length);
    error ECDSAInvalidSignatureS(bytes32 s);

    /// @dev Intent `index` of a batch was refused; `reason` is the ABI-encoded custom error.
    event IntentRejected(bytes32 indexed intentType, uint256 index, bytes reason);

    modifier onlyRelayer() {
        _checkRelayer();
        _;
    }

    constructor() EIP712("ResidentConsentLedger", "1") {}

    /// @notice Whether `signer` has used `nonce` on this contract.
    function isNonceUsed(address signer, uint256 nonce) external view returns (bool) {
        return _nonceBitmaps[signer][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @notice The used-nonce bitmap of `signer` for nonces `word * 256` to `word * 256 + 255`.
    function nonceBitmap(address signer, uint256 word) external view returns (uint256) {
        return _nonceBitmaps[signer][word];
    }

    /// @notice The EIP-712 digest this contract signs over for a struct hash.
    function hashTypedData(bytes32 structHash) external view returns (bytes32) {
        return _hashTypedDataV4(structHash);
    }

    function _isRelayer(address account) internal view virtual returns (bool);

    /// @dev The body of {onlyRelayer}: a function, so that every guarded entry point shares one copy.
    function _checkRelayer() internal view {
        if (msg.sender != address(this) && !_isRelayer(msg.sender)) {
            revert SignedIntentUnauthorizedRelayer(msg.sender);
        }
    }

    // ---------------------------------------------------------------- signatures and nonces

    /// @dev Checks deadline and signature, then spends the nonce of `expected`.
    function _verify(
        address expected,
        bytes32 structHash,
        bytes calldata signature,
        uint256 nonce,
        uint256 deadline
    ) internal {
        _verifyIntent(expected, false, structHash, signature, nonce, deadline);
    }

    /// @dev Like {_verify} for intents whose signer is whoever holds a role; returns the signer.
    function _verifyAnySigner(
        bytes32 structHash,
        bytes calldata signature,
        uint256 nonce,
        uint256 deadline
    ) internal returns (address signer) {
        return _verifyIntent(address(0), true, structHash, signature, nonce, deadline);
    }

    /**
     * @dev The checks of {_verify} without reverting or spending anything: the ABI-encoded
     * error the intent would revert with, or empty. Hot paths validate everything first and
     * only then write (see {_spendNonce}), so a batch can refuse an intent by emitting this
     * error instead of paying for a reverting self-call.
     *
     * Also returns the storage slot of the signer's nonce word and its bits with this
     * nonce set, so that spending it later is one store and no second lookup.
     */
    function _intentError(
        address expected,
        bytes32 structHash,
        bytes calldata signature,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes memory error, uint256 nonceSlot, uint256 nonceBits) {
        (error, , nonceSlot, nonceBits) = _checkIntent(expected, false, structHash, signature, nonce, deadline);
    }

    /// @dev {_intentError} for intents that more than one account may sign: also the signer.
    function _intentErrorAnySigner(
        bytes32 structHash,
        bytes calldata signature,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes memory error, address signer, uint256 nonceSlot, uint256 nonceBits) {
        return _checkIntent(address(0), true, structHash, signature, nonce, deadline);
    }

    /**
     * @dev {_intentErrorAnySigner} for a signature in EIP-2098's compact form, `r` and `vs`
     * (`s` with `v - 27` in its top bit), over `digest`: `_hashTypedDataV4` of the intent's
     * struct hash, which a batch computes from the domain separator it read once.
     * OpenZeppelin's rules as for 65 bytes (`ECDSA.tryRecover(hash, r, vs)`: low `s`, a
     * non-zero signer).
     *
     * {_checkIntent}'s checks, in its order, with its errors, step for step: written out
     * again rather than shared through helpers, which the optimizer leaves as calls and
     * which cost every other intent about 100 gas (measured on access and revoke).
     */
    function _intentErrorCompact(
        bytes32 digest,
        bytes32 r,
        bytes32 vs,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes memory error, address signer, uint256 nonceSlot, uint256 nonceBits) {
        if (block.timestamp > deadline) {
            error = abi.encodeWithSelector(SignedIntentExpired.selector, deadline, block.timestamp);
            return (error, address(0), 0, 0);
        }
        unchecked {
            // deadline >= block.timestamp here, so the difference cannot wrap.
            if (deadline - block.timestamp > MAX_DEADLINE_AHEAD) {
                uint256 latest = block.timestamp + MAX_DEADLINE_AHEAD;
                error = abi.encodeWithSelector(SignedIntentDeadlineTooFar.selector, deadline, latest);
                return (error, address(0), 0, 0);
            }
        }
        ECDSA.RecoverError recoverError;
        bytes32 arg;
        (signer, recoverError, arg) = ECDSA.tryRecover(digest, r, vs);
        if (recoverError != ECDSA.RecoverError.NoError) return (_recoverError(recoverError, arg), address(0), 0, 0);
        mapping(uint256 word => uint256 bits) storage words = _nonceBitmaps[signer];
        assembly ("memory-safe") {
            // The slot of words[nonce >> 8], as Solidity lays out a mapping value.
            mstore(0x00, shr(8, nonce))
            mstore(0x20, words.slot)
            nonceSlot := keccak256(0x00, 0x40)
            nonceBits := sload(nonceSlot)
        }
        uint256 bit = 1 << (nonce & 0xff);
        if (nonceBits & bit != 0) {
            return (abi.encodeWithSelector(SignedIntentNonceUsed.selector, signer, nonce), address(0), 0, 0);
        }
        nonceBits |= bit;
    }

    /// @dev {SignedIntentWrongSigner} unless `signature` over `digest` is `expected`'s, else the
    /// error {_recover} finds, else empty.
    function _signatureError(
        address expected,
        bytes32 digest,
        bytes calldata signature
    ) internal pure returns (bytes memory error) {
        address signer;
        (error, signer) = _recover(digest, signature);
        if (error.length == 0 && signer != expected) {
            error = abi.encodeWithSelector(SignedIntentWrongSigner.selector, expected, signer);
        }
    }

    /// @dev Marks a nonce as used: `nonceSlot` and `nonceBits` as {_intentError} returned them.
    function _spendNonce(uint256 nonceSlot, uint256 nonceBits) internal {
        assembly ("memory-safe") {
            sstore(nonceSlot, nonceBits)
        }
    }

    /// @dev Reverts with an ABI-encoded error as if it had been raised here.
    function _raise(bytes memory error) internal pure {
        assembly ("memory-safe") {
            revert(add(error, 32), mload(error))
        }
    }

    function _verifyIntent(
        address expected,
        bool anySigner,
        bytes32 structHash,
        bytes calldata signature,
        uint256 nonce,
        uint256 deadline
    ) private returns (address signer) {
        bytes memory error;
        uint256 nonceSlot;
        uint256 nonceBits;
        (error, signer, nonceSlot, nonceBits) = _checkIntent(
            expected,
            anySigner,
            structHash,
            signature,
            nonce,
            deadline
        );
        if (error.length != 0) _raise(error);
        _spendNonce(nonceSlot, nonceBits);
    }

    /**
     * @dev Every intent's checks, in this order: the deadline, the signature, its signer
     * (`expected`, unless `anySigner`), the nonce. Returns the first error, ABI-encoded
     * (empty if none), the signer, and the nonce's slot and bits for {_spendNonce}.
     */
    function _checkIntent(
        address expected,
        bool anySigner,
        bytes32 structHash,
        bytes calldata signature,
        uint256 nonce,
        uint256 deadline
    ) private view returns (bytes memory error, address signer, uint256 nonceSlot, uint256 nonceBits) {
        if (block.timestamp > deadline) {
            error = abi.encodeWithSelector(SignedIntentExpired.selector, deadline, block.timestamp);
            return (error, address(0), 0, 0);
        }
        unchecked {
            // deadline >= block.timestamp here, so the difference cannot wrap.
            if (deadline - block.timestamp > MAX_DEADLINE_AHEAD) {
                uint256 latest = block.timestamp + MAX_DEADLINE_AHEAD;
                error = abi.encodeWithSelector(SignedIntentDeadlineTooFar.selector, deadline, latest);
                return (error, address(0), 0, 0);
            }
        }
        bytes32 digest = _hashTypedDataV4(structHash);
        if (anySigner) {
            (error, signer) = _recover(digest, signature);
        } else {
            error = _signatureError(expected, digest, signature);
            signer = expected;
        }
        if (error.length != 0) return (error, address(0), 0, 0);
        mapping(uint256 word => uint256 bits) storage words = _nonceBitmaps[signer];
        assembly ("memory-safe") {
            // The slot of words[nonce >> 8], as Solidity lays out a mapping value.
            mstore(0x00, shr(8, nonce))
            mstore(0x20, words.slot)
            nonceSlot := keccak256(0x00, 0x40)
            nonceBits := sload(nonceSlot)
        }
        uint256 bit = 1 << (nonce & 0xff);
        if (nonceBits & bit != 0) {
            return (abi.encodeWithSelector(SignedIntentNonceUsed.selector, signer, nonce), address(0), 0, 0);
        }
        nonceBits |= bit;
    }

    /**
     * @dev The signer of `digest` by OpenZeppelin's rules (`ECDSA.tryRecover`: 65 bytes, low
     * `s`, a non-zero signer), or the error `ECDSA.recover` would revert with, ABI-encoded.
     * The one place a signature is recovered.
     */
    function _recover(
        bytes32 digest,
        bytes calldata signature
    ) private pure returns (bytes memory error, address signer) {
        ECDSA.RecoverError recoverError;
        bytes32 arg;
        (signer, recoverError, arg) = ECDSA.tryRecoverCalldata(digest, signature);
        if (recoverError == ECDSA.RecoverError.NoError) return (error, signer);
        return (_recoverError(recoverError, arg), address(0));
    }

    /// @dev The error `ECDSA.recover` reverts with for a `tryRecover` error other than
    /// `NoError`, ABI-encoded.
    function _recoverError(ECDSA.RecoverError recoverError, bytes32 arg) private pure returns (bytes memory) {
        if (recoverError == ECDSA.RecoverError.InvalidSignature) {
            return abi.encodeWithSelector(ECDSAInvalidSignature.selector);
        }
        // The length error and the `s` error both carry the one word `arg`.
        bytes4 selector = recoverError == ECDSA.RecoverError.InvalidSignatureLength
            ? ECDSAInvalidSignatureLength.selector
            : ECDSAInvalidSignatureS.selector;
        return abi.encodeWithSelector(selector, arg);
    }

    // ---------------------------------------------------------------- batches

    function _checkBatch(uint256 intents, uint256 signatures) internal pure {
        if (intents != signatures) revert SignedIntentBatchLengthMismatch(intents, signatures);
    }

    /**
     * @dev Runs intent `index` of a batch through this contract's own single-intent function,
     * so that a refusal reverts that intent alone: `selfCall` is the function's ABI-encoded
     * call (`abi.encodeCall(this.f, ...)`), the last memory allocated. A refusal is emitted
     * as {IntentRejected} with the call's revert data as `reason`.
     *
     * The call's memory is handed back afterwards (see {_freeMemory}); the event is encoded
     * over it, as `emit IntentRejected(intentType, index, reason)` would encode it.
     */
    function _tryIntent(bytes32 intentType, uint256 index, bytes memory selfCall) internal {
        bytes32 rejected = IntentRejected.selector;
        assembly ("memory-safe") {
            if iszero(call(gas(), address(), 0, add(selfCall, 0x20), mload(selfCall), 0, 0)) {
                let size := returndatasize()
                mstore(selfCall, index)
                mstore(add(selfCall, 0x20), 0x40) // where `reason` starts
                mstore(add(selfCall, 0x40), size)
                returndatacopy(add(selfCall, 0x60), 0, size)
                mstore(add(add(selfCall, 0x60), size), 0) // zero padding to the next word
                log2(selfCall, add(0x60, and(add(size, 31), not(31))), rejected, intentType)
            }
            mstore(0x40, selfCall)
        }
    }

    /// @dev Batch loops keep nothing in memory between intents; handing each intent's
    /// scratch memory back keeps memory expansion linear in the batch size, not quadratic.
    function _freeMemory() internal pure returns (uint256 pointer) {
        assembly ("memory-safe") {
            pointer := mload(0x40)
        }
    }

    function _resetMemory(uint256 pointer) internal pure {
        assembly ("memory-safe") {
            mstore(0x40, pointer)
        }
    }

    /// @dev Hash of a `bytes32[]` as EIP-712 encodes arrays of atomic values.
    function _hashArray(bytes32[] calldata values) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(values));
    }
}
