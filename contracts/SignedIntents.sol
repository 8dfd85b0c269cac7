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
 * its own ({IntentRejected}) without reverting the good ones.
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

    /// @dev Intent `index` of a batch was refused; `reason` is the ABI-encoded custom error.
    event IntentRejected(bytes32 indexed intentType, uint256 index, bytes reason);

    modifier onlyRelayer() {
        if (msg.sender != address(this) && !_isRelayer(msg.sender)) {
            revert SignedIntentUnauthorizedRelayer(msg.sender);
        }
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

    /// @dev Checks deadline and signature, then spends the nonce of `expected`.
    function _verify(
        address expected,
        bytes32 structHash,
        bytes calldata signature,
        uint256 nonce,
        uint256 deadline
    ) internal {
        address recovered = _recoverSigner(structHash, signature, deadline);
        if (recovered != expected) revert SignedIntentWrongSigner(expected, recovered);
        _useNonce(recovered, nonce);
    }

    /// @dev Like {_verify} for intents whose signer is whoever holds a role; returns the signer.
    function _verifyAnySigner(
        bytes32 structHash,
        bytes calldata signature,
        uint256 nonce,
        uint256 deadline
    ) internal returns (address signer) {
        signer = _recoverSigner(structHash, signature, deadline);
        _useNonce(signer, nonce);
    }

    function _recoverSigner(
        bytes32 structHash,
        bytes calldata signature,
        uint256 deadline
    ) private view returns (address) {
        bytes memory error = _deadlineError(deadline);
        if (error.length != 0) _raise(error);
        return ECDSA.recoverCalldata(_hashTypedDataV4(structHash), signature);
    }

    /// @dev The error a deadline fails with at this block, ABI-encoded; empty if none.
    function _deadlineError(uint256 deadline) internal view returns (bytes memory) {
        if (block.timestamp > deadline) {
            return abi.encodeWithSelector(SignedIntentExpired.selector, deadline, block.timestamp);
        }
        unchecked {
            // deadline >= block.timestamp here, so the difference cannot wrap.
            if (deadline - block.timestamp > MAX_DEADLINE_AHEAD) {
                return
                    abi.encodeWithSelector(
                        SignedIntentDeadlineTooFar.selector,
                        deadline,
                        block.timestamp + MAX_DEADLINE_AHEAD
                    );
            }
        }
        return "";
    }

    /**
     * @dev The checks of {_verify} without reverting or spending anything: the ABI-encoded
     * error the intent would revert with, or empty. Hot paths validate everything first
     * and only then write (see {_spendNonce}), so a batch can refuse an intent by
     * emitting this error instead of paying for a reverting self-call.
     *
     * Also returns the storage slot of the signer's nonce word and its bits with this
     * nonce set, so that spending it later is one store and no second lookup.
     */
    function _signatureError(
        address expected,
        bytes32 structHash,
        bytes calldata signature,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes memory error, uint256 nonceKey, uint256 nonceBits) {
        error = _deadlineError(deadline);
        if (error.length != 0) return (error, 0, 0);
        (address recovered, ECDSA.RecoverError recoverError, bytes32 arg) = ECDSA.tryRecoverCalldata(
            _hashTypedDataV4(structHash),
            signature
        );
        if (recoverError == ECDSA.RecoverError.InvalidSignature) {
            return (abi.encodeWithSelector(ECDSA.ECDSAInvalidSignature.selector), 0, 0);
        }
        if (recoverError == ECDSA.RecoverError.InvalidSignatureLength) {
            return (abi.encodeWithSelector(ECDSA.ECDSAInvalidSignatureLength.selector, uint256(arg)), 0, 0);
        }
        if (recoverError == ECDSA.RecoverError.InvalidSignatureS) {
            return (abi.encodeWithSelector(ECDSA.ECDSAInvalidSignatureS.selector, arg), 0, 0);
        }
        if (recovered != expected) {
            return (abi.encodeWithSelector(SignedIntentWrongSigner.selector, expected, recovered), 0, 0);
        }
        mapping(uint256 word => uint256 bits) storage words = _nonceBitmaps[expected];
        uint256 bits = words[nonce >> 8];
        uint256 bit = 1 << (nonce & 0xff);
        if (bits & bit != 0) {
            return (abi.encodeWithSelector(SignedIntentNonceUsed.selector, expected, nonce), 0, 0);
        }
        assembly ("memory-safe") {
            // The slot of words[nonce >> 8], as Solidity lays out a mapping value.
            mstore(0x00, shr(8, nonce))
            mstore(0x20, words.slot)
            nonceKey := keccak256(0x00, 0x40)
        }
        nonceBits = bits | bit;
    }

    /// @dev Marks the nonce checked by {_signatureError} as used: `nonceKey` and
    /// `nonceBits` as it returned them.
    function _spendNonce(uint256 nonceKey, uint256 nonceBits) internal {
        assembly ("memory-safe") {
            sstore(nonceKey, nonceBits)
        }
    }

    /// @dev Reverts with an ABI-encoded error as if it had been raised here.
    function _raise(bytes memory error) internal pure {
        assembly ("memory-safe") {
            revert(add(error, 32), mload(error))
        }
    }

    function _useNonce(address signer, uint256 nonce) private {
        uint256 word = nonce >> 8;
        uint256 bit = 1 << (nonce & 0xff);
        uint256 bits = _nonceBitmaps[signer][word];
        if (bits & bit != 0) revert SignedIntentNonceUsed(signer, nonce);
        _nonceBitmaps[signer][word] = bits | bit;
    }

    function _checkBatch(uint256 intents, uint256 signatures) internal pure {
        if (intents != signatures) revert SignedIntentBatchLengthMismatch(intents, signatures);
    }

    /// @dev Hash of a `bytes32[]` as EIP-712 encodes arrays of atomic values.
    function _hashArray(bytes32[] calldata values) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(values));
    }
}
