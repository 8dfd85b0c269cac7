// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IConsentDelegates} from "./interfaces/IConsentDelegates.sol";
import {IConsentDirectory} from "./interfaces/IConsentDirectory.sol";
import {IConsentLedger} from "./interfaces/IConsentLedger.sol";
import {ConsentRules} from "./ConsentRules.sol";
import {SignedIntents} from "./SignedIntents.sol";

/**
 * @title ConsentLedger
 * @dev Residents, record commitments, access requests, consents and the access log.
 * Whether an access is allowed is decided here, at the block that records it: every
 * query ends in an {AccessLogged} or an {AccessDenied} event, never in silence.
 * {ConsentRules} holds the judgement and the digest of a consent's terms.
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

    bytes32 public constant DECLINE_REQUEST_TYPEHASH =
        keccak256("DeclineRequest(address resident,bytes32 requestId,bytes32 reason,uint256 nonce,uint256 deadline)");
    bytes32 public constant WITHDRAW_REQUEST_TYPEHASH =
        keccak256("WithdrawRequest(address department,bytes32 requestId,uint256 nonce,uint256 deadline)");
    bytes32 public constant BUNDLE_ITEM_TYPEHASH =
        keccak256("BundleItem(address department,bytes32[] fields,bytes32 purpose,uint64 validUntil,uint32 maxUses)");
    bytes32 public constant GRANT_BUNDLE_TYPEHASH =
        keccak256(
            "GrantBundle(address resident,bytes32 service,BundleItem[] items,uint64 validFrom,uint256 nonce,uint256 deadline)BundleItem(address department,bytes32[] fields,bytes32 purpose,uint64 validUntil,uint32 maxUses)"
        );
    bytes32 public constant REVOKE_BUNDLE_TYPEHASH =
        keccak256("RevokeBundle(address resident,uint256 bundleId,uint256 nonce,uint256 deadline)");

    /// @notice A request's answer as {requestStatus} gives it and {ConsentLedgerRequestAnswered} names it.
    uint8 public constant REQUEST_PENDING = 0;
    uint8 public constant REQUEST_GRANTED = 1;
    uint8 public constant REQUEST_DECLINED = 2;
    uint8 public constant REQUEST_WITHDRAWN = 3;
    /// @notice How long a request can be answered by a grant after the block that filed it;
    /// a decline or withdrawal may still close it afterwards.
    uint64 public constant REQUEST_ANSWER_WINDOW = 30 days;
    /// @dev The delegate powers ({ConsentDelegates}) a resident's intents need when a
    /// delegate signs them: grant (grants, bundles, declines), revoke, commit record.
    uint8 private constant POWER_GRANT = 1;
    uint8 private constant POWER_REVOKE = 2;
    uint8 private constant POWER_COMMIT = 4;
    /// @dev In a {grantScopedBatch}'s scope table, a scope's last word once one of its grants
    /// is granted (the directory's checks of it passed): this bit, or'ed with its policy's
    /// longest duration.
    uint256 private constant _SCOPE_CHECKED = 0x10000000000000000;

    IConsentDirectory private immutable _directory;
    IConsentDelegates private immutable _delegates;

    mapping(address resident => Resident) private _residents;
    mapping(bytes32 idCommitment => address resident) private _residentByCommitment;
    /// @dev `keccak256(department, resident)` while a request is pending; once answered,
    /// its answer (`REQUEST_GRANTED`, `_DECLINED`, `_WITHDRAWN`) as a number, so that a grant
    /// naming it reads one word either way.
    mapping(bytes32 requestId => bytes32 parties) private _requests;
    /// @dev Who filed each request and when (a decline or withdrawal needs the department,
    /// a grant the time).
    mapping(bytes32 requestId => RequestFiling) private _requestFilings;
    mapping(uint256 consentId => ConsentState) private _consents;
    uint256 private _consentCount;
    mapping(uint256 bundleId => Bundle) private _bundles;

    constructor(IConsentDirectory directory_, IConsentDelegates delegates_) {
        if (address(directory_) == address(0) || address(delegates_) == address(0)) revert ConsentLedgerZeroAddress();
        _directory = directory_;
        _delegates = delegates_;
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
        _verifyResident(intent.resident, POWER_COMMIT, COMMIT_RECORD_TYPEHASH, structHash, signature, intent.nonce, intent.deadline);
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
        (bytes memory error, uint64 maxDuration) = _directory.scopeLimit(intent.fields, intent.purpose);
        if (error.length != 0) _raise(error);
        if (intent.duration == 0) revert ConsentLedgerZeroDuration();
        if (maxDuration != 0 && intent.duration > maxDuration) {
            revert ConsentLedgerPolicyDurationTooLong(intent.purpose, intent.duration, maxDuration);
        }
        requestId = _hashTypedDataV4(structHash);
        _requests[requestId] = _parties(intent.department, intent.resident);
        _requestFilings[requestId] = RequestFiling(intent.department, uint64(block.timestamp));
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
     * @notice The resident declines a pending request with a reason code; no grant can
     * name it from this block on.
     *
     * Requirements:
     * - the caller is a relayer; signed by `resident`; deadline and nonce hold;
     * - `reason` is one of {declineReasons};
     * - the request was filed to `resident` and is still pending.
     *
     * Emits a {RequestDeclined} event.
     */
    function declineRequest(DeclineRequest calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(
                DECLINE_REQUEST_TYPEHASH,
                intent.resident,
                intent.requestId,
                intent.reason,
                intent.nonce,
                intent.deadline
            )
        );
        _verifyResident(intent.resident, POWER_GRANT, DECLINE_REQUEST_TYPEHASH, structHash, signature, intent.nonce, intent.deadline);
        if (!ConsentRules.isDeclineReason(intent.reason)) revert ConsentLedgerUnknownReason(intent.reason);
        address department = _requestFilings[intent.requestId].department;
        bytes32 stored = _requests[intent.requestId];
        if (department == address(0)) revert ConsentLedgerUnknownRequest(intent.requestId);
        if (stored != _parties(department, intent.resident)) {
            if (uint256(stored) <= REQUEST_WITHDRAWN) {
                revert ConsentLedgerRequestAnswered(intent.requestId, uint8(uint256(stored)));
            }
            revert ConsentLedgerUnknownRequest(intent.requestId);
        }
        _requests[intent.requestId] = bytes32(uint256(REQUEST_DECLINED));
        emit RequestDeclined(intent.requestId, intent.resident, department, intent.reason);
    }

    /**
     * @notice The department withdraws a pending request it filed; no grant can name it
     * from this block on.
     *
     * Requirements:
     * - the caller is a relayer; signed by `department`; deadline and nonce hold;
     * - the request was filed by `department` and is still pending.
     *
     * Emits a {RequestWithdrawn} event.
     */
    function withdrawRequest(WithdrawRequest calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(WITHDRAW_REQUEST_TYPEHASH, intent.department, intent.requestId, intent.nonce, intent.deadline)
        );
        _verify(intent.department, structHash, signature, intent.nonce, intent.deadline);
        address department = _requestFilings[intent.requestId].department;
        if (department == address(0)) revert ConsentLedgerUnknownRequest(intent.requestId);
        if (department != intent.department) {
            revert ConsentLedgerNotRequestDepartment(intent.requestId, intent.department);
        }
        uint256 stored = uint256(_requests[intent.requestId]);
        if (stored <= REQUEST_WITHDRAWN) revert ConsentLedgerRequestAnswered(intent.requestId, uint8(stored));
        _requests[intent.requestId] = bytes32(uint256(REQUEST_WITHDRAWN));
        emit RequestWithdrawn(intent.requestId, intent.department);
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
     * - the fields and the window (`validUntil - validFrom`) are within the purpose's policy;
     * - `requestId` is zero or a pending request by this department to this resident,
     *   filed less than {REQUEST_ANSWER_WINDOW} ago, which the grant answers.
     *
     * Emits a {ConsentGranted} event carrying the full terms.
     */
    function grant(Grant calldata intent, bytes calldata signature) external onlyRelayer returns (uint256 consentId) {
        (uint256 words, bytes32[] calldata fields) = _grantWords(intent);
        bytes32 structHash;
        uint256 nonce;
        uint256 deadline;
        assembly ("memory-safe") {
            structHash := keccak256(words, 0x160)
            nonce := mload(add(words, 0x120))
            deadline := mload(add(words, 0x140))
        }
        (bytes memory error, address signer, uint256 nonceSlot, uint256 nonceBits) = _intentErrorAnySigner(
            structHash,
            signature,
            nonce,
            deadline
        );
        (error, consentId, ) = _grant(words, fields, error, signer, nonceSlot, nonceBits, 0, _consentCount);
        if (error.length != 0) _raise(error);
        _consentCount = consentId;
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
        _verifyResident(intent.resident, POWER_REVOKE, REVOKE_TYPEHASH, structHash, signature, intent.nonce, intent.deadline);
        ConsentState storage state = _consents[intent.consentId];
        if (state.termsHash == bytes24(0)) revert ConsentLedgerUnknownConsent(intent.consentId);
        if (state.termsHash != hashTerms(terms)) revert ConsentLedgerTermsMismatch(intent.consentId);
        if (terms.resident != intent.resident) revert ConsentLedgerNotConsentResident(intent.consentId, intent.resident);
        if (state.revoked) revert ConsentLedgerAlreadyRevoked(intent.consentId);
        state.revoked = true;
        emit ConsentRevoked(intent.consentId, terms.resident, terms.department);
    }

    // ---------------------------------------------------------------- bundles

    /**
     * @notice Grants every item of a service in one act, one consent per item, all or
     * none; each item no wider than its service item. Returns the bundle's id.
     *
     * Requirements:
     * - the caller is a relayer; signed by `resident`; deadline and nonce hold;
     * - the resident is enrolled; the service is defined and `items` are its items, in
     *   order, each naming its department (active) and purpose, a subset of its fields,
     *   a window from `validFrom` to its `validUntil` (in the future) no longer than the
     *   item's duration and its purpose's policy, and no more uses than the item's cap.
     *   The first item that does not fit fails with {ConsentLedgerBundleItemRefused}.
     *
     * Emits a {ConsentGranted} event per item, then a {BundleGranted} event. The bundle's id
     * is its first consent's.
     */
    function grantBundle(GrantBundle calldata intent, bytes calldata signature) external onlyRelayer returns (uint256 bundleId) {
        BundleItem[] calldata items = intent.items;
        bytes32[] memory itemHashes = new bytes32[](items.length);
        bytes32[] memory fieldHashes = new bytes32[](items.length);
        for (uint256 i = 0; i < items.length; ++i) {
            fieldHashes[i] = _hashArray(items[i].fields);
            itemHashes[i] = keccak256(
                abi.encode(
                    BUNDLE_ITEM_TYPEHASH,
                    items[i].department,
                    fieldHashes[i],
                    items[i].purpose,
                    items[i].validUntil,
                    items[i].maxUses
                )
            );
        }
        bytes32 structHash = keccak256(
            abi.encode(
                GRANT_BUNDLE_TYPEHASH,
                intent.resident,
                intent.service,
                keccak256(abi.encodePacked(itemHashes)),
                intent.validFrom,
                intent.nonce,
                intent.deadline
            )
        );
        _verifyResident(intent.resident, POWER_GRANT, GRANT_BUNDLE_TYPEHASH, structHash, signature, intent.nonce, intent.deadline);
        _requireEnrolled(intent.resident);
        if (items.length == 0) {
            bytes memory empty = abi.encodeWithSelector(
                IConsentDirectory.ConsentDirectoryBundleItemCount.selector,
                intent.service,
                0,
                0
            );
            revert ConsentLedgerBundleItemRefused(0, empty);
        }
        bundleId = _consentCount + 1;
        _consentCount = bundleId + items.length - 1;
        for (uint256 i = 0; i < items.length; ++i) {
            BundleItem calldata item = items[i];
            bytes memory error;
            uint256 itemCount;
            if (intent.validFrom >= item.validUntil || item.validUntil <= block.timestamp) {
                error = abi.encodeWithSelector(ConsentLedgerInvalidWindow.selector, intent.validFrom, item.validUntil);
            } else {
                (error, itemCount) = _directory.bundleItemError(
                    intent.service,
                    i,
                    item.department,
                    item.fields,
                    item.purpose,
                    item.validUntil - intent.validFrom,
                    item.maxUses
                );
                if (error.length == 0 && i == 0 && itemCount != items.length) {
                    error = abi.encodeWithSelector(
                        IConsentDirectory.ConsentDirectoryBundleItemCount.selector,
                        intent.service,
                        itemCount,
                        items.length
                    );
                }
            }
            if (error.length != 0) revert ConsentLedgerBundleItemRefused(i, error);
            uint256 terms = _termsWords(
                intent.resident,
                item.department,
                fieldHashes[i],
                item.purpose,
                intent.validFrom,
                item.validUntil,
                item.maxUses
            );
            _recordConsent(bundleId + i, terms, item.fields);
        }
        // At most MAX_SERVICE_ITEMS (16) items: a service has no more, so neither does a bundle.
        _bundles[bundleId] = Bundle({resident: intent.resident, count: uint16(items.length), revoked: false});
        emit BundleGranted(bundleId, intent.resident, intent.service, bundleId, uint16(items.length));
    }

    /**
     * @notice Revokes every consent of a bundle still in force, in this block. `terms` are
     * its consents' terms, in order, as their {ConsentGranted} events carry them.
     *
     * Requirements:
     * - the caller is a relayer; signed by `resident`; deadline and nonce hold;
     * - the bundle exists, belongs to `resident` and is not revoked; `terms` match its consents.
     *
     * Emits a {ConsentRevoked} event per consent still in force, then a {BundleRevoked} event.
     */
    function revokeBundle(
        RevokeBundle calldata intent,
        bytes calldata signature,
        ConsentTerms[] calldata terms
    ) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(REVOKE_BUNDLE_TYPEHASH, intent.resident, intent.bundleId, intent.nonce, intent.deadline)
        );
        _verifyResident(intent.resident, POWER_REVOKE, REVOKE_BUNDLE_TYPEHASH, structHash, signature, intent.nonce, intent.deadline);
        Bundle storage bundle = _bundles[intent.bundleId];
        if (bundle.resident == address(0)) revert ConsentLedgerUnknownBundle(intent.bundleId);
        if (bundle.resident != intent.resident) revert ConsentLedgerNotBundleResident(intent.bundleId, intent.resident);
        if (bundle.revoked) revert ConsentLedgerBundleRevoked(intent.bundleId);
        if (terms.length != bundle.count) {
            revert ConsentLedgerBundleTermsCount(intent.bundleId, bundle.count, terms.length);
        }
        bundle.revoked = true;
        uint256 consentId = intent.bundleId;
        for (uint256 i = 0; i < terms.length; ++i) {
            ConsentState storage state = _consents[consentId];
            if (state.termsHash != hashTerms(terms[i])) revert ConsentLedgerTermsMismatch(consentId);
            if (!state.revoked) {
                state.revoked = true;
                emit ConsentRevoked(consentId, intent.resident, terms[i].department);
            }
            unchecked {
                ++consentId;
            }
        }
        emit BundleRevoked(intent.bundleId, intent.resident);
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
            _tryIntent(ENROLL_RESIDENT_TYPEHASH, i, abi.encodeCall(this.enrollResident, (intents[i], signatures[i])));
        }
    }

    /// @notice Submits many {declineRequest} intents; emits {IntentRejected} for each refused one.
    function declineRequestBatch(DeclineRequest[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(DECLINE_REQUEST_TYPEHASH, i, abi.encodeCall(this.declineRequest, (intents[i], signatures[i])));
        }
    }

    /// @notice Submits many {withdrawRequest} intents; emits {IntentRejected} for each refused one.
    function withdrawRequestBatch(WithdrawRequest[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(WITHDRAW_REQUEST_TYPEHASH, i, abi.encodeCall(this.withdrawRequest, (intents[i], signatures[i])));
        }
    }

    /// @notice Submits many {grantBundle} intents; emits {IntentRejected} for each refused one.
    function grantBundleBatch(GrantBundle[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(GRANT_BUNDLE_TYPEHASH, i, abi.encodeCall(this.grantBundle, (intents[i], signatures[i])));
        }
    }

    /// @notice Submits many {revokeBundle} intents; emits {IntentRejected} for each refused one.
    function revokeBundleBatch(
        RevokeBundle[] calldata intents,
        bytes[] calldata signatures,
        ConsentTerms[][] calldata terms
    ) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        _checkBatch(intents.length, terms.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(
                REVOKE_BUNDLE_TYPEHASH,
                i,
                abi.encodeCall(this.revokeBundle, (intents[i], signatures[i], terms[i]))
            );
        }
    }

    /// @notice Submits many {commitRecord} intents; emits {IntentRejected} for each refused one.
    function commitRecordBatch(CommitRecord[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(COMMIT_RECORD_TYPEHASH, i, abi.encodeCall(this.commitRecord, (intents[i], signatures[i])));
        }
    }

    /// @notice Submits many {requestAccess} intents; emits {IntentRejected} for each refused one.
    function requestAccessBatch(AccessRequest[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(ACCESS_REQUEST_TYPEHASH, i, abi.encodeCall(this.requestAccess, (intents[i], signatures[i])));
        }
    }

    /**
     * @notice Submits many {grant} intents; emits {IntentRejected} for each refused one.
     * @dev Each through {grant} in a self-call, as the other batches do: the layout for a
     * signature of any form. The relayer sends {grantScopedBatch} whenever every signature
     * of a batch has the compact form (all that it accepts do).
     */
    function grantBatch(Grant[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(GRANT_TYPEHASH, i, abi.encodeCall(this.grant, (intents[i], signatures[i])));
        }
    }

    /**
     * @notice Submits many {grant} intents in a compact layout: each grant's department,
     * fields and purpose given once per distinct scope, its signature in EIP-2098's compact
     * form. Grant `i` is the {Grant} of `intents[i]` with the members of
     * `scopes[intents[i].scope]`, signed as such; it is judged, recorded and logged exactly
     * as {grant} would, and refused alone with {IntentRejected} at index `i`.
     * @dev Validates each grant before writing anything, so a refusal needs no revert; a
     * scope is checked against the directory once, by its first grant to get that far. The
     * consent count is kept on the stack and stored once, after the last grant. Nothing on
     * a grant's path reverts (no arithmetic that can overflow unchecked for, only the
     * directory's non-reverting views), so one grant cannot take the batch down.
     *
     * Malformed calldata reverts the whole batch without data, as Solidity's decoder does:
     * a scope or grant member that is not a valid value of its type, a `fields` offset or
     * length that leaves the calldata, and a `scope` index that names no scope of the batch
     * (the relayer's encoding error, not a resident's intent: such a grant is nobody's
     * {Grant}, so it cannot be refused as one).
     */
    function grantScopedBatch(GrantScope[] calldata scopes, ScopedGrant[] calldata intents) external onlyRelayer {
        uint256 table = _scopeTable(scopes);
        bytes32 domain = _domainSeparatorV4();
        uint256 count = _consentCount;
        uint256 granted = count;
        // One grant's EIP-712 encoding, rewritten by each grant but its first word
        // ({GRANT_TYPEHASH}): nothing else writes there, every later allocation lies past it.
        uint256 words;
        bytes32 typeHash = GRANT_TYPEHASH;
        assembly ("memory-safe") {
            words := mload(0x40)
            mstore(0x40, add(words, 0x160))
            mstore(words, typeHash)
        }
        uint256 freeMemory = _freeMemory();
        for (uint256 i = 0; i < intents.length; ++i) {
            (uint256 entry, bytes32[] calldata fields, uint256 grant_) = _scopedGrantWords(
                intents,
                i,
                table,
                scopes.length,
                words
            );
            bytes32 digest;
            bytes32 r;
            bytes32 vs;
            uint256 nonce;
            uint256 deadline;
            uint256 scopeState;
            assembly ("memory-safe") {
                // MessageHashUtils.toTypedDataHash(domain, structHash), in the scratch memory
                // past the allocation.
                let scratch := mload(0x40)
                mstore(scratch, hex"1901")
                mstore(add(scratch, 0x02), domain)
                mstore(add(scratch, 0x22), keccak256(words, 0x160))
                digest := keccak256(scratch, 0x42)
                r := calldataload(add(grant_, 0x100))
                vs := calldataload(add(grant_, 0x120))
                nonce := mload(add(words, 0x120))
                deadline := mload(add(words, 0x140))
                scopeState := mload(add(entry, 0xa0))
            }
            (bytes memory error, address signer, uint256 nonceSlot, uint256 nonceBits) = _intentErrorCompact(
                digest,
                r,
                vs,
                nonce,
                deadline
            );
            uint256 consentId;
            uint256 maxDuration;
            (error, consentId, maxDuration) = _grant(
                words,
                fields,
                error,
                signer,
                nonceSlot,
                nonceBits,
                scopeState,
                granted
            );
            if (error.length != 0) {
                emit IntentRejected(GRANT_TYPEHASH, i, error);
            } else {
                assembly ("memory-safe") {
                    mstore(add(entry, 0xa0), or(_SCOPE_CHECKED, maxDuration))
                }
                granted = consentId;
            }
            _resetMemory(freeMemory);
        }
        if (granted != count) _consentCount = granted;
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
            _tryIntent(REVOKE_TYPEHASH, i, abi.encodeCall(this.revoke, (intents[i], signatures[i], terms[i])));
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

    /// @notice A bundle (all zero if unknown): its consents are `bundleId` to
    /// `bundleId + count - 1`, their states {consentState}'s.
    function bundle(uint256 bundleId) external view returns (Bundle memory) {
        return _bundles[bundleId];
    }

    /// @notice `keccak256(department, resident)` of a pending request, its answer
    /// (`REQUEST_GRANTED`, `_DECLINED`, `_WITHDRAWN`) once answered, zero if unknown.
    function requestParties(bytes32 requestId) external view returns (bytes32) {
        return _requests[requestId];
    }

    /// @notice The department that filed a request (zero: unknown), its answer so far
    /// (`REQUEST_PENDING` while none) and when a grant can no longer name it.
    function requestStatus(
        bytes32 requestId
    ) external view returns (address department, uint8 status, uint64 expiresAt) {
        RequestFiling memory filing = _requestFilings[requestId];
        department = filing.department;
        if (department != address(0)) expiresAt = filing.filedAt + REQUEST_ANSWER_WINDOW;
        uint256 stored = uint256(_requests[requestId]);
        status = department != address(0) && stored <= REQUEST_WITHDRAWN ? uint8(stored) : REQUEST_PENDING;
    }

    /// @notice The reason codes a {declineRequest} may give.
    function declineReasons() external pure returns (bytes32[5] memory) {
        return ConsentRules.declineReasons();
    }

    /// @notice The 192-bit digest of consent terms that storage keeps.
    function hashTerms(ConsentTerms calldata terms) public pure returns (bytes24) {
        return ConsentRules.hash(terms);
    }

    // ---------------------------------------------------------------- internals

    function _isRelayer(address account) internal view override returns (bool) {
        return _directory.hasRole(RELAYER_ROLE, account);
    }

    /**
     * @dev {_intentError} for an intent in `resident`'s name: signed by the resident, or by
     * a delegate whose appointment holds `power` at this block (it spends its own nonce).
     */
    function _residentIntentError(
        address resident,
        uint8 power,
        bytes32 structHash,
        bytes calldata signature,
        uint256 nonce,
        uint256 deadline
    ) private view returns (bytes memory error, address signer, uint256 nonceSlot, uint256 nonceBits) {
        (error, signer, nonceSlot, nonceBits) = _intentErrorAnySigner(structHash, signature, nonce, deadline);
        if (error.length != 0 || signer == resident) return (error, signer, nonceSlot, nonceBits);
        error = _delegates.delegationError(resident, signer, power);
    }

    /// @dev {_verify} by {_residentIntentError}; a delegate's signature is logged as
    /// {DelegateSigned} before the intent's own events.
    function _verifyResident(
        address resident,
        uint8 power,
        bytes32 intentType,
        bytes32 structHash,
        bytes calldata signature,
        uint256 nonce,
        uint256 deadline
    ) private {
        (bytes memory error, address signer, uint256 nonceSlot, uint256 nonceBits) = _residentIntentError(
            resident,
            power,
            structHash,
            signature,
            nonce,
            deadline
        );
        if (error.length != 0) _raise(error);
        _spendNonce(nonceSlot, nonceBits);
        if (signer != resident) emit DelegateSigned(resident, signer, intentType);
    }

    /**
     * @dev {grant} without reverting, after its signature's checks: the grant whose EIP-712
     * encoding lies in memory at `words` ({_grantWords}, {_scopedGrantWords}), its `fields`
     * in calldata; `error`, `signer`, `nonceSlot` and `nonceBits` what {_intentErrorAnySigner}
     * (or {_intentErrorCompact}) found. Every other check first, then the writes.
     * `scopeState` is zero for a scope (department, fields, purpose) not yet checked, else
     * {_SCOPE_CHECKED} with its policy's longest duration; the returned `maxDuration` is the
     * scope's, for the caller to keep. `count` is the number of consents so far; the
     * consent's id is the next, which the caller stores as the new count.
     *
     * The members are read from `words` as words (each checked there to be a valid value of
     * its type); slices of it are the consent terms' digest input and the {ConsentGranted}
     * event's data.
     */
    function _grant(
        uint256 words,
        bytes32[] calldata fields,
        bytes memory error,
        address signer,
        uint256 nonceSlot,
        uint256 nonceBits,
        uint256 scopeState,
        uint256 count
    ) private returns (bytes memory, uint256 consentId, uint256 maxDuration) {
        address resident_;
        uint256 validFrom;
        uint256 validUntil;
        bytes32 requestId;
        bool delegated;
        bool enrolled;
        assembly ("memory-safe") {
            resident_ := mload(add(words, 0x20))
            validFrom := mload(add(words, 0xa0))
            validUntil := mload(add(words, 0xc0))
            requestId := mload(add(words, 0x100))
            // resident_ is a valid address (checked where the words were written); signer's
            // upper bits are not promised clean in assembly, so they are cleared.
            delegated := iszero(eq(and(signer, 0xffffffffffffffffffffffffffffffffffffffff), resident_))
        }
        if (error.length != 0) return (error, 0, 0);
        if (delegated) {
            // As {_residentIntentError}: a delegate's signature needs its power at this block.
            error = _delegates.delegationError(resident_, signer, POWER_GRANT);
            if (error.length != 0) return (error, 0, 0);
        }
        mapping(address => Resident) storage residents = _residents;
        assembly ("memory-safe") {
            // _residents[resident_].idCommitment, its struct's first word.
            mstore(0x00, resident_)
            mstore(0x20, residents.slot)
            enrolled := iszero(iszero(sload(keccak256(0x00, 0x40))))
        }
        if (!enrolled) return (abi.encodeWithSelector(ConsentLedgerUnknownResident.selector, resident_), 0, 0);
        maxDuration = scopeState & type(uint64).max;
        if (scopeState == 0) {
            address department;
            bytes32 purpose;
            assembly ("memory-safe") {
                department := mload(add(words, 0x40))
                purpose := mload(add(words, 0x80))
            }
            error = _departmentError(department);
            if (error.length == 0) (error, maxDuration) = _directory.scopeLimit(fields, purpose);
            if (error.length != 0) return (error, 0, 0);
        }
        if (validFrom >= validUntil || validUntil <= block.timestamp) {
            error = abi.encodeWithSelector(ConsentLedgerInvalidWindow.selector, uint64(validFrom), uint64(validUntil));
            return (error, 0, 0);
        }
        if (maxDuration != 0) {
            uint256 duration;
            unchecked {
                duration = validUntil - validFrom; // validFrom < validUntil here
            }
            if (duration > maxDuration) {
                bytes32 purpose;
                assembly ("memory-safe") {
                    purpose := mload(add(words, 0x80))
                }
                error = abi.encodeWithSelector(
                    ConsentLedgerPolicyDurationTooLong.selector,
                    purpose,
                    uint64(duration),
                    uint64(maxDuration)
                );
                return (error, 0, 0);
            }
        }
        if (requestId != bytes32(0)) {
            error = _requestError(requestId, words);
            if (error.length != 0) return (error, 0, 0);
        }
        if (count == type(uint256).max) {
            return (abi.encodeWithSelector(ConsentLedgerConsentIdsExhausted.selector), 0, 0);
        }
        _spendNonce(nonceSlot, nonceBits);
        if (delegated) emit DelegateSigned(resident_, signer, GRANT_TYPEHASH);
        if (requestId != bytes32(0)) _requests[requestId] = bytes32(uint256(REQUEST_GRANTED));
        unchecked {
            consentId = count + 1; // count is below type(uint256).max here
        }
        _recordConsent(consentId, words + 0x20, fields);
        return (error, consentId, maxDuration);
    }

    /**
     * @dev Why the grant at `words` cannot answer request `requestId` (non-zero), or empty:
     * the request must be pending, from the grant's department to its resident, and filed
     * less than {REQUEST_ANSWER_WINDOW} ago.
     */
    function _requestError(bytes32 requestId, uint256 words) private view returns (bytes memory) {
        address resident_;
        address department;
        assembly ("memory-safe") {
            resident_ := mload(add(words, 0x20))
            department := mload(add(words, 0x40))
        }
        uint256 stored = uint256(_requests[requestId]);
        if (stored != uint256(_parties(department, resident_))) {
            return stored != 0 && stored <= REQUEST_WITHDRAWN
                ? abi.encodeWithSelector(ConsentLedgerRequestAnswered.selector, requestId, uint8(stored))
                : abi.encodeWithSelector(ConsentLedgerUnknownRequest.selector, requestId);
        }
        uint256 expiredAt;
        unchecked {
            expiredAt = uint256(_requestFilings[requestId].filedAt) + REQUEST_ANSWER_WINDOW;
        }
        if (block.timestamp >= expiredAt) {
            return abi.encodeWithSelector(ConsentLedgerRequestExpired.selector, requestId, uint64(expiredAt));
        }
        return "";
    }

    /**
     * @dev A grant's EIP-712 encoding in fresh memory at `words`: {GRANT_TYPEHASH}, then its
     * ten members as `abi.encode` lays them out, `fields` as the hash of its values
     * (`keccak256(abi.encodePacked(fields))`); and `intent.fields`. The head is copied from
     * calldata in one go: every member is one word there as in the encoding. Malformed
     * calldata reverts without data, as Solidity's decoder does: a member whose word is not
     * a valid value of its type, or a `fields` offset or length that leaves the calldata
     * (the decoder's own checks of `intent.fields`, in its words).
     *
     * From `words + 0x20` on, the first eight members are {_recordConsent}'s terms words.
     */
    function _grantWords(Grant calldata intent) private pure returns (uint256 words, bytes32[] calldata fields) {
        bytes32 typeHash = GRANT_TYPEHASH;
        assembly ("memory-safe") {
            words := mload(0x40)
            mstore(0x40, add(words, 0x160))
            mstore(words, typeHash)
            // resident, department, (fields), purpose, validFrom, validUntil, maxUses,
            // requestId, nonce, deadline
            calldatacopy(add(words, 0x20), intent, 0x140)
            if or(
                or(shr(160, mload(add(words, 0x20))), shr(160, mload(add(words, 0x40)))),
                or(or(shr(64, mload(add(words, 0xa0))), shr(64, mload(add(words, 0xc0)))), shr(32, mload(add(words, 0xe0))))
            ) {
                revert(0, 0)
            }
            // intent.fields: its offset from the struct's start, its length, its values.
            let relative := mload(add(words, 0x60))
            if iszero(slt(relative, add(sub(calldatasize(), intent), not(30)))) {
                revert(0, 0)
            }
            let tail := add(intent, relative)
            let length := calldataload(tail)
            if gt(length, 0xffffffffffffffff) {
                revert(0, 0)
            }
            let offset := add(tail, 0x20)
            let size := shl(5, length)
            if sgt(offset, sub(calldatasize(), size)) {
                revert(0, 0)
            }
            fields.offset := offset
            fields.length := length
            // The values, hashed in the scratch memory past the allocation.
            calldatacopy(add(words, 0x160), offset, size)
            mstore(add(words, 0x60), keccak256(add(words, 0x160), size))
        }
    }

    /**
     * @dev A {grantScopedBatch}'s scopes in fresh memory, six words each: the department,
     * the hash of the fields' values (as EIP-712 encodes `bytes32[]`), the purpose, the
     * calldata offset and length of the fields, and the scope's state for {_grant} (zero:
     * not checked yet). Each scope's members are decoded with Solidity's checks, once.
     */
    function _scopeTable(GrantScope[] calldata scopes) private pure returns (uint256 table) {
        assembly ("memory-safe") {
            table := mload(0x40)
            mstore(0x40, add(table, mul(scopes.length, 0xc0)))
        }
        for (uint256 j = 0; j < scopes.length; ++j) {
            GrantScope calldata scope = scopes[j];
            address department = scope.department;
            bytes32[] calldata fields = scope.fields;
            bytes32 purpose = scope.purpose;
            assembly ("memory-safe") {
                let entry := add(table, mul(j, 0xc0))
                // The values, hashed in the scratch memory past the allocation.
                let scratch := mload(0x40)
                let size := shl(5, fields.length)
                calldatacopy(scratch, fields.offset, size)
                mstore(entry, and(department, 0xffffffffffffffffffffffffffffffffffffffff))
                mstore(add(entry, 0x20), keccak256(scratch, size))
                mstore(add(entry, 0x40), purpose)
                mstore(add(entry, 0x60), fields.offset)
                mstore(add(entry, 0x80), fields.length)
                mstore(add(entry, 0xa0), 0)
            }
        }
    }

    /**
     * @dev Grant `i` of a {grantScopedBatch} laid out as {_grantWords} lays out a {Grant} in
     * memory at `words`, whose first word already holds {GRANT_TYPEHASH}: `resident`, its
     * scope's department, fields hash and purpose, then `validFrom` to `deadline` copied
     * from calldata in one go. Returns its scope's `entry` in the `table` of {_scopeTable},
     * the scope's `fields`, and where the grant starts in calldata (`grant_`: its `r` and
     * `vs` are 0x100 and 0x120 on). Reverts without data, as Solidity's decoder would, for a
     * member whose word is not a valid value of its type, and for a `scope` that is not
     * below `scopeCount`. `i` is below `intents.length`: the decoder checked that the array
     * lies within the calldata.
     */
    // slither-disable-next-line write-after-write (`.offset` and `.length` are the two halves of one calldata slice)
    function _scopedGrantWords(
        ScopedGrant[] calldata intents,
        uint256 i,
        uint256 table,
        uint256 scopeCount,
        uint256 words
    ) private pure returns (uint256 entry, bytes32[] calldata fields, uint256 grant_) {
        assembly ("memory-safe") {
            grant_ := add(intents.offset, mul(i, 0x140))
            let scope := calldataload(add(grant_, 0x20))
            if iszero(lt(scope, scopeCount)) {
                revert(0, 0)
            }
            entry := add(table, mul(scope, 0xc0))
            let resident_ := calldataload(grant_)
            mstore(add(words, 0x20), resident_)
            // department, fields hash, purpose
            mcopy(add(words, 0x40), entry, 0x60)
            // validFrom, validUntil, maxUses, requestId, nonce, deadline
            calldatacopy(add(words, 0xa0), add(grant_, 0x40), 0xc0)
            if or(
                or(shr(160, resident_), shr(64, mload(add(words, 0xa0)))),
                or(shr(64, mload(add(words, 0xc0))), shr(32, mload(add(words, 0xe0))))
            ) {
                revert(0, 0)
            }
            fields.offset := mload(add(entry, 0x60))
            fields.length := mload(add(entry, 0x80))
        }
    }

    /**
     * @dev A consent's terms words in fresh memory, as {_recordConsent} takes them:
     * `abi.encode(resident, department, fieldsHash, purpose, validFrom, validUntil, maxUses,
     * requestId)` with a zero `requestId`.
     */
    function _termsWords(
        address resident_,
        address department,
        bytes32 fieldsHash,
        bytes32 purpose,
        uint64 validFrom,
        uint64 validUntil,
        uint32 maxUses
    ) private pure returns (uint256 terms) {
        assembly ("memory-safe") {
            terms := mload(0x40)
            mstore(0x40, add(terms, 0x100))
            mstore(terms, and(resident_, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(terms, 0x20), and(department, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(terms, 0x40), fieldsHash)
            mstore(add(terms, 0x60), purpose)
            mstore(add(terms, 0x80), and(validFrom, 0xffffffffffffffff))
            mstore(add(terms, 0xa0), and(validUntil, 0xffffffffffffffff))
            mstore(add(terms, 0xc0), and(maxUses, 0xffffffff))
            mstore(add(terms, 0xe0), 0)
        }
    }

    /**
     * @dev Writes consent `consentId` (a fresh id: the caller counted it), whose every check
     * has passed, and emits its {ConsentGranted}. `terms` points to eight words in memory,
     * `abi.encode(resident, department, fieldsHash, purpose, validFrom, validUntil, maxUses,
     * requestId)` with `fieldsHash` the hash of `fields`' values: the first seven are the
     * input of the terms' digest ({ConsentRules-hashWords}), the last five the event's data
     * after the offset of `fields`. Overwrites the memory from `terms + 0x40` on.
     */
    function _recordConsent(uint256 consentId, uint256 terms, bytes32[] calldata fields) private {
        // A fresh id, whose word is all zero: the whole word is written, the digest in its
        // low 24 bytes (where `termsHash` lives), `uses` 0 and `revoked` false above it.
        bytes24 termsHash = ConsentRules.hashWords(terms);
        ConsentState storage state = _consents[consentId];
        assembly ("memory-safe") {
            sstore(state.slot, shr(64, termsHash))
        }
        // emit ConsentGranted(consentId, resident, department, fields, purpose, validFrom,
        // validUntil, maxUses, requestId), its data as `abi.encode` lays it out: the offset
        // of `fields` (six words in) where `fieldsHash` was, the five words after it, then
        // the length and values of `fields`.
        bytes32 topic = ConsentGranted.selector;
        assembly ("memory-safe") {
            let data := add(terms, 0x40)
            mstore(data, 0xc0)
            mstore(add(data, 0xc0), fields.length)
            let size := shl(5, fields.length)
            calldatacopy(add(data, 0xe0), fields.offset, size)
            log4(data, add(0xe0, size), topic, consentId, mload(terms), mload(add(terms, 0x20)))
        }
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
        uint256 nonceSlot;
        uint256 nonceBits;
        (error, nonceSlot, nonceBits) = _intentError(
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
        (error, reason) = ConsentRules.judge(intent, state, terms, active);
        if (error.length != 0) return (error, false, department, active);
        _spendNonce(nonceSlot, nonceBits);
        if (reason != bytes32(0)) {
            emit AccessDenied(intent.consentId, intent.resident, intent.department, intent.fields, reason);
            return ("", false, department, active);
        }
        uint32 use;
        unchecked {
            use = state.uses + 1; // below its cap (see ConsentRules.judge), so below type(uint32).max
        }
        state.uses = use;
        emit AccessLogged(intent.consentId, intent.resident, intent.department, intent.fields, terms.purpose, use);
        return ("", true, department, active);
    }

    function _requireEnrolled(address account) private view returns (Resident storage resident_) {
        resident_ = _residents[account];
        if (resident_.idCommitment == bytes32(0)) revert ConsentLedgerUnknownResident(account);
    }

    function _requireActiveDepartment(address department) private view {
        bytes memory error = _departmentError(department);
        if (error.length != 0) _raise(error);
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

    function _parties(address department, address account) private pure returns (bytes32) {
        return keccak256(abi.encode(department, account));
    }
}
