// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IConsentDirectory} from "./interfaces/IConsentDirectory.sol";
import {IConsentLedger} from "./interfaces/IConsentLedger.sol";
import {SignedIntents} from "./SignedIntents.sol";

/**
 * @title ConsentLedger
 * @dev Residents, record commitments, access requests, consents and the access log.
 * Whether an access is allowed is decided here, at the block that records it: every
 * query ends in an {AccessLogged} or an {AccessDenied} event, never in silence.
 */
contract ConsentLedger is IConsentLedger, SignedIntents {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    bytes32 public constant RELAYER_ROLE = keccak256("RELAYER_ROLE");

    bytes32 public constant ENROLL_RESIDENT_TYPEHASH =
        keccak256(
            "EnrollResident(address resident,bytes32 idCommitment,bytes encryptionKey,uint256 nonce,uint256 deadline)"
        );
    bytes32 public constant COMMIT_RECORD_TYPEHASH =
        keccak256("CommitRecord(address resident,uint64 version,bytes32 root,uint256 nonce,uint256 deadline)");
    bytes32 public constant ACCESS_REQUEST_TYPEHASH =
        keccak256(
            "AccessRequest(address department,address resident,bytes32[] fields,bytes32 purpose,uint64 duration,uint256 nonce,uint256 deadline)"
        );
    bytes32 public constant GRANT_TYPEHASH =
        keccak256(
            "Grant(address resident,address department,bytes32[] fields,bytes32 purpose,uint64 validFrom,uint64 validUntil,uint32 maxUses,bytes32 requestId,uint256 nonce,uint256 deadline)"
        );
    bytes32 public constant REVOKE_TYPEHASH =
        keccak256("Revoke(address resident,uint256 consentId,uint256 nonce,uint256 deadline)");
    bytes32 public constant ACCESS_TYPEHASH =
        keccak256(
            "Access(address department,address resident,uint256 consentId,bytes32[] fields,uint256 nonce,uint256 deadline)"
        );

    bytes32 private constant _UNKNOWN_CONSENT = "unknown_consent";
    bytes32 private constant _NOT_GRANTED = "not_granted";
    bytes32 private constant _REVOKED = "revoked";
    bytes32 private constant _NOT_YET_VALID = "not_yet_valid";
    bytes32 private constant _EXPIRED = "expired";
    bytes32 private constant _USES_EXHAUSTED = "uses_exhausted";
    bytes32 private constant _FIELD_NOT_IN_SCOPE = "field_not_in_scope";

    IConsentDirectory private immutable _directory;

    mapping(address resident => Resident) private _residents;
    mapping(bytes32 idCommitment => address resident) private _residentByCommitment;
    mapping(bytes32 requestId => bytes32 parties) private _requests;
    mapping(uint256 consentId => ConsentState) private _consents;
    uint256 private _consentCount;

    constructor(IConsentDirectory directory_) {
        if (address(directory_) == address(0)) revert ConsentLedgerZeroAddress();
        _directory = directory_;
    }

    // ---------------------------------------------------------------- residents

    /**
     * @notice Enrols `resident` with a salted commitment to their ID number and the HPKE
     * key their wallet wraps its own field keys for.
     *
     * IMPORTANT: `idCommitment` must be salted; an unsalted hash of an ID number is
     * personal data.
     *
     * Requirements:
     * - the caller is a relayer; the signer holds `REGISTRAR_ROLE`; deadline and nonce hold;
     * - `resident` is non-zero and not enrolled; `idCommitment` is non-zero and unused;
     *   `encryptionKey` is non-empty.
     *
     * Emits a {ResidentEnrolled} event.
     */
    function enrollResident(EnrollResident calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(
                ENROLL_RESIDENT_TYPEHASH,
                intent.resident,
                intent.idCommitment,
                keccak256(intent.encryptionKey),
                intent.nonce,
                intent.deadline
            )
        );
        address registrar = _verifyAnySigner(structHash, signature, intent.nonce, intent.deadline);
        if (!_directory.hasRole(REGISTRAR_ROLE, registrar)) {
            revert ConsentLedgerUnauthorizedSigner(registrar, REGISTRAR_ROLE);
        }
        if (intent.resident == address(0)) revert ConsentLedgerZeroAddress();
        if (intent.idCommitment == bytes32(0)) revert ConsentLedgerInvalidIdCommitment();
        if (intent.encryptionKey.length == 0) revert ConsentLedgerInvalidEncryptionKey();
        if (_residents[intent.resident].idCommitment != bytes32(0)) revert ConsentLedgerResidentExists(intent.resident);
        if (_residentByCommitment[intent.idCommitment] != address(0)) {
            revert ConsentLedgerIdCommitmentUsed(intent.idCommitment);
        }
        _residents[intent.resident].idCommitment = intent.idCommitment;
        _residentByCommitment[intent.idCommitment] = intent.resident;
        emit ResidentEnrolled(intent.resident, registrar, intent.idCommitment, intent.encryptionKey);
    }

    /**
     * @notice Commits a new version of the resident's encrypted record: the Merkle root of
     * its field ciphertext hashes.
     *
     * Requirements:
     * - the caller is a relayer; signed by `resident`; deadline and nonce hold;
     * - `resident` is enrolled; `version` is above the current one; `root` is non-zero.
     *
     * Emits a {RecordCommitted} event.
     */
    function commitRecord(CommitRecord calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(
                COMMIT_RECORD_TYPEHASH,
                intent.resident,
                intent.version,
                intent.root,
                intent.nonce,
                intent.deadline
            )
        );
        _verify(intent.resident, structHash, signature, intent.nonce, intent.deadline);
        Resident storage resident = _requireEnrolled(intent.resident);
        if (intent.version <= resident.version) {
            revert ConsentLedgerStaleVersion(intent.resident, resident.version, intent.version);
        }
        if (intent.root == bytes32(0)) revert ConsentLedgerInvalidRoot();
        resident.version = intent.version;
        resident.root = intent.root;
        emit RecordCommitted(intent.resident, intent.version, intent.root);
    }

    // ---------------------------------------------------------------- consents

    /**
     * @notice Files a department's request to access fields of a resident's record.
     * Returns the request id (the intent's EIP-712 digest) a {grant} may answer.
     *
     * Requirements:
     * - the caller is a relayer; signed by `department`; deadline and nonce hold;
     * - the department is active, the resident enrolled, the fields and purpose defined
     *   (fields strictly ascending), `duration` non-zero.
     *
     * Emits an {AccessRequested} event.
     */
    function requestAccess(
        AccessRequest calldata intent,
        bytes calldata signature
    ) external onlyRelayer returns (bytes32 requestId) {
        bytes32 structHash = keccak256(
            abi.encode(
                ACCESS_REQUEST_TYPEHASH,
                intent.department,
                intent.resident,
                _hashArray(intent.fields),
                intent.purpose,
                intent.duration,
                intent.nonce,
                intent.deadline
            )
        );
        _verify(intent.department, structHash, signature, intent.nonce, intent.deadline);
        _requireActiveDepartment(intent.department);
        _requireEnrolled(intent.resident);
        _directory.checkScope(intent.fields, intent.purpose);
        if (intent.duration == 0) revert ConsentLedgerZeroDuration();
        requestId = _hashTypedDataV4(structHash);
        _requests[requestId] = _parties(intent.department, intent.resident);
        emit AccessRequested(
            requestId,
            intent.department,
            intent.resident,
            intent.fields,
            intent.purpose,
            intent.duration
        );
    }

    /**
     * @notice Records a resident's consent for a department to read `fields` for
     * `purpose` between `validFrom` and `validUntil`, at most `maxUses` times (0: no limit).
     *
     * Requirements:
     * - the caller is a relayer; signed by `resident`; deadline and nonce hold;
     * - the resident is enrolled, the department active, the fields and purpose defined
     *   (fields strictly ascending);
     * - `validFrom < validUntil` and `validUntil` is in the future;
     * - `requestId` is zero or a request by this department to this resident.
     *
     * Emits a {ConsentGranted} event carrying the full terms.
     */
    function grant(Grant calldata intent, bytes calldata signature) external onlyRelayer returns (uint256 consentId) {
        bytes memory error;
        (error, consentId, ) = _grant(intent, signature, bytes32(0));
        if (error.length != 0) _raise(error);
    }

    /**
     * @notice Revokes a consent from this block on; every later access is denied `revoked`.
     * `terms` are the consent's terms as its {ConsentGranted} event carries them.
     *
     * Requirements:
     * - the caller is a relayer; signed by `resident`; deadline and nonce hold;
     * - the consent exists, `terms` match it, it belongs to `resident` and is not revoked.
     *
     * Emits a {ConsentRevoked} event.
     */
    function revoke(Revoke calldata intent, bytes calldata signature, ConsentTerms calldata terms) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(REVOKE_TYPEHASH, intent.resident, intent.consentId, intent.nonce, intent.deadline)
        );
        _verify(intent.resident, structHash, signature, intent.nonce, intent.deadline);
        ConsentState storage state = _consents[intent.consentId];
        if (state.termsHash == bytes24(0)) revert ConsentLedgerUnknownConsent(intent.consentId);
        if (state.termsHash != hashTerms(terms)) revert ConsentLedgerTermsMismatch(intent.consentId);
        if (terms.resident != intent.resident) revert ConsentLedgerNotConsentResident(intent.consentId, intent.resident);
        if (state.revoked) revert ConsentLedgerAlreadyRevoked(intent.consentId);
        state.revoked = true;
        emit ConsentRevoked(intent.consentId, terms.resident, terms.department);
    }

    // ---------------------------------------------------------------- access

    /**
     * @notice Judges and records a department's access to `fields` under a consent at this
     * block. Returns whether it is allowed. `terms` are the consent's terms as its
     * {ConsentGranted} event carries them (anything, for an unknown consent id).
     *
     * Denial reasons, checked in this order: `unknown_consent`, `not_granted` (another
     * resident or department, or the department is suspended), `revoked`, `not_yet_valid`,
     * `expired`, `uses_exhausted`, `field_not_in_scope`.
     *
     * Requirements:
     * - the caller is a relayer; signed by `department`, a registered department; deadline
     *   and nonce hold;
     * - `fields` is non-empty and strictly ascending;
     * - for a known consent, `terms` match it.
     *
     * Emits an {AccessLogged} event if allowed, else an {AccessDenied} event.
     */
    function access(
        Access calldata intent,
        bytes calldata signature,
        ConsentTerms calldata terms
    ) external onlyRelayer returns (bool allowed) {
        bytes memory error;
        (error, allowed, , ) = _access(intent, signature, terms, address(0), false);
        if (error.length != 0) _raise(error);
    }

    // ---------------------------------------------------------------- batches

    /// @notice Submits many {enrollResident} intents; emits {IntentRejected} for each refused one.
    function enrollResidentBatch(EnrollResident[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            try this.enrollResident(intents[i], signatures[i]) {} catch (bytes memory reason) {
                emit IntentRejected(ENROLL_RESIDENT_TYPEHASH, i, reason);
            }
        }
    }

    /// @notice Submits many {commitRecord} intents; emits {IntentRejected} for each refused one.
    function commitRecordBatch(CommitRecord[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            try this.commitRecord(intents[i], signatures[i]) {} catch (bytes memory reason) {
                emit IntentRejected(COMMIT_RECORD_TYPEHASH, i, reason);
            }
        }
    }

    /// @notice Submits many {requestAccess} intents; emits {IntentRejected} for each refused one.
    function requestAccessBatch(AccessRequest[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            // slither-disable-next-line unused-return (a batch answers with events, not ids)
            try this.requestAccess(intents[i], signatures[i]) {} catch (bytes memory reason) {
                emit IntentRejected(ACCESS_REQUEST_TYPEHASH, i, reason);
            }
        }
    }

    /**
     * @notice Submits many {grant} intents; emits {IntentRejected} for each refused one.
     * @dev Validates each intent before writing anything, so a refusal needs no revert;
     * consecutive grants to the same department, fields and purpose check them once.
     * Nothing on an intent's path reverts (no arithmetic that can overflow unchecked for,
     * only the directory's non-reverting views), so one intent cannot take the batch down.
     */
    function grantBatch(Grant[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        bytes32 checkedScope = bytes32(0); // no scope checked yet
        uint256 freeMemory = _freeMemory();
        for (uint256 i = 0; i < intents.length; ++i) {
            (bytes memory error, , bytes32 scope) = _grant(intents[i], signatures[i], checkedScope);
            if (error.length != 0) {
                emit IntentRejected(GRANT_TYPEHASH, i, error);
            } else {
                checkedScope = scope;
            }
            _resetMemory(freeMemory);
        }
    }

    /// @notice Submits many {revoke} intents; emits {IntentRejected} for each refused one.
    function revokeBatch(
        Revoke[] calldata intents,
        bytes[] calldata signatures,
        ConsentTerms[] calldata terms
    ) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        _checkBatch(intents.length, terms.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            try this.revoke(intents[i], signatures[i], terms[i]) {} catch (bytes memory reason) {
                emit IntentRejected(REVOKE_TYPEHASH, i, reason);
            }
        }
    }

    /**
     * @notice Submits many {access} intents; emits {IntentRejected} for each refused one.
     * A denied access is not refused: it is recorded by its {AccessDenied} event.
     * @dev As in {grantBatch}, nothing on an intent's path reverts: a use count at its
     * maximum is `uses_exhausted`, not an overflow.
     */
    function accessBatch(
        Access[] calldata intents,
        bytes[] calldata signatures,
        ConsentTerms[] calldata terms
    ) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        _checkBatch(intents.length, terms.length);
        // The last department looked up in this batch, and whether it is active: none yet.
        address department = address(0);
        bool active = false;
        uint256 freeMemory = _freeMemory();
        for (uint256 i = 0; i < intents.length; ++i) {
            bytes memory error;
            (error, , department, active) = _access(intents[i], signatures[i], terms[i], department, active);
            if (error.length != 0) emit IntentRejected(ACCESS_TYPEHASH, i, error);
            _resetMemory(freeMemory);
        }
    }

    // ---------------------------------------------------------------- views

    /// @notice The directory this ledger takes roles, departments and the schema from.
    function directory() external view returns (IConsentDirectory) {
        return _directory;
    }

    /// @notice A resident's enrolment and latest record commitment (all zero if unknown).
    function resident(address account) external view returns (Resident memory) {
        return _residents[account];
    }

    /// @notice {IConsentDirectory-rolesOf}, plus bit 6 if `account` is an enrolled resident.
    function rolesOf(address account) external view returns (uint256 roles) {
        roles = _directory.rolesOf(account);
        if (_residents[account].idCommitment != bytes32(0)) roles |= 1 << 6;
    }

    function isEnrolled(address account) external view returns (bool) {
        return _residents[account].idCommitment != bytes32(0);
    }

    /// @notice The mutable state of a consent; its terms are in its {ConsentGranted} event.
    function consentState(uint256 consentId) external view returns (ConsentState memory) {
        return _consents[consentId];
    }

    /// @notice How many consents were granted; ids run from 1 to this.
    function consentCount() external view returns (uint256) {
        return _consentCount;
    }

    /// @notice `keccak256(department, resident)` of a filed request, zero if unknown.
    function requestParties(bytes32 requestId) external view returns (bytes32) {
        return _requests[requestId];
    }

    /// @notice The 192-bit digest of consent terms that storage keeps.
    function hashTerms(ConsentTerms calldata terms) public pure returns (bytes24) {
        return
            _termsHash(
                terms.resident,
                terms.department,
                terms.fields,
                terms.purpose,
                terms.validFrom,
                terms.validUntil,
                terms.maxUses
            );
    }

    // ---------------------------------------------------------------- internals

    function _isRelayer(address account) internal view override returns (bool) {
        return _directory.hasRole(RELAYER_ROLE, account);
    }

    /**
     * @dev {grant} without reverting: every check first, then the writes. `checkedScope`
     * is the department/fields/purpose key a previous grant of the batch passed with; the
     * returned `scope` is this one's.
     */
    function _grant(
        Grant calldata intent,
        bytes calldata signature,
        bytes32 checkedScope
    ) private returns (bytes memory error, uint256 consentId, bytes32 scope) {
        bytes32 fieldsHash = _hashArray(intent.fields);
        bytes32 structHash = keccak256(
            abi.encode(
                GRANT_TYPEHASH,
                intent.resident,
                intent.department,
                fieldsHash,
                intent.purpose,
                intent.validFrom,
                intent.validUntil,
                intent.maxUses,
                intent.requestId,
                intent.nonce,
                intent.deadline
            )
        );
        uint256 nonceKey;
        uint256 nonceBits;
        (error, nonceKey, nonceBits) = _signatureError(
            intent.resident,
            structHash,
            signature,
            intent.nonce,
            intent.deadline
        );
        if (error.length != 0) return (error, 0, 0);
        if (_residents[intent.resident].idCommitment == bytes32(0)) {
            return (abi.encodeWithSelector(ConsentLedgerUnknownResident.selector, intent.resident), 0, 0);
        }
        scope = keccak256(abi.encode(intent.department, fieldsHash, intent.purpose));
        if (scope != checkedScope) {
            error = _departmentError(intent.department);
            if (error.length == 0) error = _directory.scopeError(intent.fields, intent.purpose);
            if (error.length != 0) return (error, 0, 0);
        }
        if (intent.validFrom >= intent.validUntil || intent.validUntil <= block.timestamp) {
            return (
                abi.encodeWithSelector(ConsentLedgerInvalidWindow.selector, intent.validFrom, intent.validUntil),
                0,
                0
            );
        }
        if (
            intent.requestId != bytes32(0) &&
            _requests[intent.requestId] != _parties(intent.department, intent.resident)
        ) {
            return (abi.encodeWithSelector(ConsentLedgerUnknownRequest.selector, intent.requestId), 0, 0);
        }
        consentId = _consentCount;
        if (consentId == type(uint256).max) {
            return (abi.encodeWithSelector(ConsentLedgerConsentIdsExhausted.selector), 0, 0);
        }
        _spendNonce(nonceKey, nonceBits);
        unchecked {
            _consentCount = ++consentId;
        }
        _consents[consentId] = ConsentState({
            termsHash: bytes24(
                keccak256(
                    abi.encode(
                        intent.resident,
                        intent.department,
                        fieldsHash,
                        intent.purpose,
                        intent.validFrom,
                        intent.validUntil,
                        intent.maxUses
                    )
                )
            ),
            uses: 0,
            revoked: false
        });
        emit ConsentGranted(
            consentId,
            intent.resident,
            intent.department,
            intent.fields,
            intent.purpose,
            intent.validFrom,
            intent.validUntil,
            intent.maxUses,
            intent.requestId
        );
    }

    /**
     * @dev {access} without reverting. `department`/`active` carry the status of the last
     * department looked up in this batch, so a run of its queries asks the directory once.
     */
    function _access(
        Access calldata intent,
        bytes calldata signature,
        ConsentTerms calldata terms,
        address department,
        bool active
    ) private returns (bytes memory error, bool allowed, address, bool) {
        bytes32 structHash = keccak256(
            abi.encode(
                ACCESS_TYPEHASH,
                intent.department,
                intent.resident,
                intent.consentId,
                _hashArray(intent.fields),
                intent.nonce,
                intent.deadline
            )
        );
        uint256 nonceKey;
        uint256 nonceBits;
        (error, nonceKey, nonceBits) = _signatureError(
            intent.department,
            structHash,
            signature,
            intent.nonce,
            intent.deadline
        );
        if (error.length != 0) return (error, false, department, active);
        if (intent.department != department || department == address(0)) {
            bool registered;
            (registered, active) = _directory.departmentStatus(intent.department);
            if (!registered) {
                return (
                    abi.encodeWithSelector(ConsentLedgerUnknownDepartment.selector, intent.department),
                    false,
                    address(0),
                    false
                );
            }
            department = intent.department;
        }
        error = _ascendingError(intent.fields);
        if (error.length != 0) return (error, false, department, active);
        ConsentState storage state = _consents[intent.consentId];
        bytes32 reason;
        (error, reason) = _judge(intent, state, terms, active);
        if (error.length != 0) return (error, false, department, active);
        _spendNonce(nonceKey, nonceBits);
        if (reason != bytes32(0)) {
            emit AccessDenied(intent.consentId, intent.resident, intent.department, intent.fields, reason);
            return ("", false, department, active);
        }
        uint32 use;
        unchecked {
            use = state.uses + 1; // below its cap (see _reason), so below type(uint32).max
        }
        state.uses = use;
        emit AccessLogged(intent.consentId, intent.resident, intent.department, intent.fields, terms.purpose, use);
        return ("", true, department, active);
    }

    function _judge(
        Access calldata intent,
        ConsentState storage state,
        ConsentTerms calldata terms,
        bool departmentActive
    ) private view returns (bytes memory error, bytes32 reason) {
        bytes24 termsHash = state.termsHash;
        if (termsHash == bytes24(0)) return ("", _UNKNOWN_CONSENT);
        if (termsHash != hashTerms(terms)) {
            return (abi.encodeWithSelector(ConsentLedgerTermsMismatch.selector, intent.consentId), 0);
        }
        return ("", _reason(intent, state, terms, departmentActive));
    }

    function _reason(
        Access calldata intent,
        ConsentState storage state,
        ConsentTerms calldata terms,
        bool departmentActive
    ) private view returns (bytes32) {
        if (terms.resident != intent.resident || terms.department != intent.department || !departmentActive) {
            return _NOT_GRANTED;
        }
        if (state.revoked) return _REVOKED;
        if (block.timestamp < terms.validFrom) return _NOT_YET_VALID;
        if (block.timestamp >= terms.validUntil) return _EXPIRED;
        // Unlimited (0) still ends where the count would overflow: a denial, not a Panic.
        uint32 cap = terms.maxUses == 0 ? type(uint32).max : terms.maxUses;
        if (state.uses >= cap) return _USES_EXHAUSTED;
        if (!_isSubset(intent.fields, terms.fields)) return _FIELD_NOT_IN_SCOPE;
        return bytes32(0);
    }

    function _requireEnrolled(address account) private view returns (Resident storage resident_) {
        resident_ = _residents[account];
        if (resident_.idCommitment == bytes32(0)) revert ConsentLedgerUnknownResident(account);
    }

    function _requireActiveDepartment(address department) private view {
        bytes memory error = _departmentError(department);
        if (error.length != 0) _raise(error);
    }

    /// @dev Batch loops keep nothing in memory between intents; handing each intent's
    /// scratch memory back keeps memory expansion linear in the batch size, not quadratic.
    function _freeMemory() private pure returns (uint256 pointer) {
        assembly ("memory-safe") {
            pointer := mload(0x40)
        }
    }

    function _resetMemory(uint256 pointer) private pure {
        assembly ("memory-safe") {
            mstore(0x40, pointer)
        }
    }

    function _departmentError(address department) private view returns (bytes memory) {
        (bool registered, bool active) = _directory.departmentStatus(department);
        if (!registered) return abi.encodeWithSelector(ConsentLedgerUnknownDepartment.selector, department);
        if (!active) return abi.encodeWithSelector(ConsentLedgerInactiveDepartment.selector, department);
        return "";
    }

    function _ascendingError(bytes32[] calldata values) private pure returns (bytes memory) {
        if (values.length == 0) return abi.encodeWithSelector(ConsentLedgerEmptyFields.selector);
        for (uint256 i = 1; i < values.length; ++i) {
            if (values[i] <= values[i - 1]) return abi.encodeWithSelector(ConsentLedgerUnsortedFields.selector, i);
        }
        return "";
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

    function _parties(address department, address account) private pure returns (bytes32) {
        return keccak256(abi.encode(department, account));
    }

    function _termsHash(
        address resident_,
        address department,
        bytes32[] calldata fieldIds,
        bytes32 purpose,
        uint64 validFrom,
        uint64 validUntil,
        uint32 maxUses
    ) private pure returns (bytes24) {
        return
            bytes24(
                keccak256(
                    abi.encode(
                        resident_,
                        department,
                        keccak256(abi.encodePacked(fieldIds)),
                        purpose,
                        validFrom,
                        validUntil,
                        maxUses
                    )
                )
            );
    }
}
