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
        bytes32 structHash = keccak256(
            abi.encode(
                GRANT_TYPEHASH,
                intent.resident,
                intent.department,
                _hashArray(intent.fields),
                intent.purpose,
                intent.validFrom,
                intent.validUntil,
                intent.maxUses,
                intent.requestId,
                intent.nonce,
                intent.deadline
            )
        );
        _verify(intent.resident, structHash, signature, intent.nonce, intent.deadline);
        _requireEnrolled(intent.resident);
        _requireActiveDepartment(intent.department);
        _directory.checkScope(intent.fields, intent.purpose);
        if (intent.validFrom >= intent.validUntil || intent.validUntil <= block.timestamp) {
            revert ConsentLedgerInvalidWindow(intent.validFrom, intent.validUntil);
        }
        if (
            intent.requestId != bytes32(0) &&
            _requests[intent.requestId] != _parties(intent.department, intent.resident)
        ) {
            revert ConsentLedgerUnknownRequest(intent.requestId);
        }
        consentId = ++_consentCount;
        _consents[consentId] = ConsentState({
            termsHash: _termsHash(
                intent.resident,
                intent.department,
                intent.fields,
                intent.purpose,
                intent.validFrom,
                intent.validUntil,
                intent.maxUses
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
        _verify(intent.department, structHash, signature, intent.nonce, intent.deadline);
        (bool registered, bool active) = _directory.departmentStatus(intent.department);
        if (!registered) revert ConsentLedgerUnknownDepartment(intent.department);
        _checkAscending(intent.fields);

        ConsentState storage state = _consents[intent.consentId];
        bytes32 reason = _judge(intent, state, terms, active);
        if (reason != bytes32(0)) {
            emit AccessDenied(intent.consentId, intent.resident, intent.department, intent.fields, reason);
            return false;
        }
        uint32 use = state.uses + 1;
        state.uses = use;
        emit AccessLogged(intent.consentId, intent.resident, intent.department, intent.fields, terms.purpose, use);
        return true;
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
            try this.requestAccess(intents[i], signatures[i]) {} catch (bytes memory reason) {
                emit IntentRejected(ACCESS_REQUEST_TYPEHASH, i, reason);
            }
        }
    }

    /// @notice Submits many {grant} intents; emits {IntentRejected} for each refused one.
    function grantBatch(Grant[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            try this.grant(intents[i], signatures[i]) {} catch (bytes memory reason) {
                emit IntentRejected(GRANT_TYPEHASH, i, reason);
            }
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

    /// @notice Submits many {access} intents; emits {IntentRejected} for each refused one.
    /// A denied access is not refused: it is recorded by its {AccessDenied} event.
    function accessBatch(
        Access[] calldata intents,
        bytes[] calldata signatures,
        ConsentTerms[] calldata terms
    ) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        _checkBatch(intents.length, terms.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            try this.access(intents[i], signatures[i], terms[i]) {} catch (bytes memory reason) {
                emit IntentRejected(ACCESS_TYPEHASH, i, reason);
            }
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

    function _judge(
        Access calldata intent,
        ConsentState storage state,
        ConsentTerms calldata terms,
        bool departmentActive
    ) private view returns (bytes32) {
        bytes24 termsHash = state.termsHash;
        if (termsHash == bytes24(0)) return _UNKNOWN_CONSENT;
        if (termsHash != hashTerms(terms)) revert ConsentLedgerTermsMismatch(intent.consentId);
        if (terms.resident != intent.resident || terms.department != intent.department || !departmentActive) {
            return _NOT_GRANTED;
        }
        if (state.revoked) return _REVOKED;
        if (block.timestamp < terms.validFrom) return _NOT_YET_VALID;
        if (block.timestamp >= terms.validUntil) return _EXPIRED;
        if (terms.maxUses != 0 && state.uses >= terms.maxUses) return _USES_EXHAUSTED;
        if (!_isSubset(intent.fields, terms.fields)) return _FIELD_NOT_IN_SCOPE;
        return bytes32(0);
    }

    function _requireEnrolled(address account) private view returns (Resident storage resident_) {
        resident_ = _residents[account];
        if (resident_.idCommitment == bytes32(0)) revert ConsentLedgerUnknownResident(account);
    }

    function _requireActiveDepartment(address department) private view {
        (bool registered, bool active) = _directory.departmentStatus(department);
        if (!registered) revert ConsentLedgerUnknownDepartment(department);
        if (!active) revert ConsentLedgerInactiveDepartment(department);
    }

    function _checkAscending(bytes32[] calldata values) private pure {
        if (values.length == 0) revert ConsentLedgerEmptyFields();
        for (uint256 i = 1; i < values.length; ++i) {
            if (values[i] <= values[i - 1]) revert ConsentLedgerUnsortedFields(i);
        }
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
