// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IConsentLedger} from "./interfaces/IConsentLedger.sol";

/**
 * @title ConsentRules
 * @dev What a consent keeps and allows, apart from who signs and what is stored where:
 * the 192-bit digest of its terms that storage keeps, and the judgement of an access
 * under it (a denial reason, or an error for terms that do not match the digest).
 */
library ConsentRules {
    bytes32 internal constant UNKNOWN_CONSENT = "unknown_consent";
    bytes32 internal constant NOT_GRANTED = "not_granted";
    bytes32 internal constant REVOKED = "revoked";
    bytes32 internal constant NOT_YET_VALID = "not_yet_valid";
    bytes32 internal constant EXPIRED = "expired";
    bytes32 internal constant USES_EXHAUSTED = "uses_exhausted";
    bytes32 internal constant FIELD_NOT_IN_SCOPE = "field_not_in_scope";

    // Why a resident declines a request (`DeclineRequest.reason`), as right-padded ASCII.
    bytes32 internal constant NOT_NEEDED = "NOT_NEEDED";
    bytes32 internal constant TOO_MANY_FIELDS = "TOO_MANY_FIELDS";
    bytes32 internal constant TOO_LONG = "TOO_LONG";
    bytes32 internal constant UNKNOWN_DEPARTMENT = "UNKNOWN_DEPARTMENT";
    bytes32 internal constant OTHER = "OTHER";

    /// @dev The reason codes a decline may give, in this order.
    function declineReasons() internal pure returns (bytes32[5] memory) {
        return [NOT_NEEDED, TOO_MANY_FIELDS, TOO_LONG, UNKNOWN_DEPARTMENT, OTHER];
    }

    function isDeclineReason(bytes32 reason) internal pure returns (bool) {
        return
            reason == NOT_NEEDED ||
            reason == TOO_MANY_FIELDS ||
            reason == TOO_LONG ||
            reason == UNKNOWN_DEPARTMENT ||
            reason == OTHER;
    }

    /// @dev The digest of consent terms that storage keeps.
    function hash(IConsentLedger.ConsentTerms calldata terms) internal pure returns (bytes24) {
        return
            hash(
                terms.resident,
                terms.department,
                keccak256(abi.encodePacked(terms.fields)),
                terms.purpose,
                terms.validFrom,
                terms.validUntil,
                terms.maxUses
            );
    }

    /// @dev {hash} of terms given one by one, with the fields' hash (`keccak256(abi.encodePacked(fields))`):
    /// their seven words as `abi.encode` lays them out (each value cleaned to its type's
    /// width), written to scratch memory and given to {hashWords}.
    function hash(
        address resident,
        address department,
        bytes32 fieldsHash,
        bytes32 purpose,
        uint64 validFrom,
        uint64 validUntil,
        uint32 maxUses
    ) internal pure returns (bytes24 digest) {
        uint256 words;
        assembly ("memory-safe") {
            words := mload(0x40)
            mstore(words, and(resident, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(words, 0x20), and(department, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(words, 0x40), fieldsHash)
            mstore(add(words, 0x60), purpose)
            mstore(add(words, 0x80), and(validFrom, 0xffffffffffffffff))
            mstore(add(words, 0xa0), and(validUntil, 0xffffffffffffffff))
            mstore(add(words, 0xc0), and(maxUses, 0xffffffff))
        }
        return hashWords(words);
    }

    /**
     * @dev The digest of consent terms that storage keeps, of their encoding in memory at
     * `words`: `abi.encode(resident, department, fieldsHash, purpose, validFrom, validUntil,
     * maxUses)`, seven words. Its first 192 bits: `bytes24(keccak256(that encoding))`.
     */
    function hashWords(uint256 words) internal pure returns (bytes24 digest) {
        assembly ("memory-safe") {
            // bytes24(...): the hash's first 24 bytes, the last 8 cleared.
            digest := and(keccak256(words, 0xe0), not(0xffffffffffffffff))
        }
    }

    /**
     * @dev Judges `intent` under the consent with `state` and `terms` at this block: the
     * ABI-encoded error if `terms` do not match a known consent, else the denial reason
     * (zero: allowed). Reasons, checked in this order: `unknown_consent`, `not_granted`
     * (another resident or department, or the department is suspended), `revoked`,
     * `not_yet_valid`, `expired`, `uses_exhausted`, `field_not_in_scope`.
     */
    function judge(
        IConsentLedger.Access calldata intent,
        IConsentLedger.ConsentState storage state,
        IConsentLedger.ConsentTerms calldata terms,
        bool departmentActive
    ) internal view returns (bytes memory error, bytes32 reason) {
        bytes24 stored = state.termsHash;
        if (stored == bytes24(0)) return ("", UNKNOWN_CONSENT);
        if (stored != hash(terms)) {
            return (abi.encodeWithSelector(IConsentLedger.ConsentLedgerTermsMismatch.selector, intent.consentId), 0);
        }
        return ("", _denialReason(intent, state, terms, departmentActive));
    }

    function _denialReason(
        IConsentLedger.Access calldata intent,
        IConsentLedger.ConsentState storage state,
        IConsentLedger.ConsentTerms calldata terms,
        bool departmentActive
    ) private view returns (bytes32) {
        if (terms.resident != intent.resident || terms.department != intent.department || !departmentActive) {
            return NOT_GRANTED;
        }
        if (state.revoked) return REVOKED;
        if (block.timestamp < terms.validFrom) return NOT_YET_VALID;
        if (block.timestamp >= terms.validUntil) return EXPIRED;
        // Unlimited (0) still ends where the count would overflow: a denial, not a Panic.
        uint32 cap = terms.maxUses == 0 ? type(uint32).max : terms.maxUses;
        if (state.uses >= cap) return USES_EXHAUSTED;
        if (!_isSubset(intent.fields, terms.fields)) return FIELD_NOT_IN_SCOPE;
        return bytes32(0);
    }

    /// @dev Both arrays strictly ascending: one merge pass.
    function _isSubset(bytes32[] calldata wanted, bytes32[] calldata granted) private pure returns (bool) {
        uint256 j = 0;
        for (uint256 i = 0; i < wanted.length; ++i) {
            while (j < granted.length && granted[j] < wanted[i]) ++j;
            if (j == granted.length || granted[j] != wanted[i]) return false;
            ++j;
        }
        return true;
    }
}
