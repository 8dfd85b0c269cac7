// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IConsentDirectory} from "./interfaces/IConsentDirectory.sol";
import {IConsentLedger} from "./interfaces/IConsentLedger.sol";
import {SignedIntents} from "./SignedIntents.sol";

/**
 * @title ConsentDirectory
 * @dev The district's data-governance registry. The admin (`DEFAULT_ADMIN_ROLE`, the
 * data-governance office) registers, suspends and reinstates departments, rotates their
 * keys, grants and revokes roles and ends issuers' trust through signed intents that any
 * relayer may submit, and defines fields and purposes directly. Issuers' attestations
 * are recorded here, their trust judged at the recording block.
 */
contract ConsentDirectory is IConsentDirectory, AccessControl, SignedIntents {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    bytes32 public constant DEPARTMENT_ROLE = keccak256("DEPARTMENT_ROLE");
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");
    bytes32 public constant AUDITOR_ROLE = keccak256("AUDITOR_ROLE");
    bytes32 public constant RELAYER_ROLE = keccak256("RELAYER_ROLE");
    /// @dev Departments that may read a resident's emergency directive (an ambulance
    /// service), each for the fields the admin named when granting it.
    bytes32 public constant EMERGENCY_ROLE = keccak256("EMERGENCY_ROLE");

    bytes32 public constant REGISTER_DEPARTMENT_TYPEHASH =
        keccak256(
            "RegisterDepartment(address department,string name,string code,bytes encryptionKey,uint256 nonce,uint256 deadline)"
        );
    bytes32 public constant GRANT_ROLE_TYPEHASH =
        keccak256("GrantRole(bytes32 role,address account,bytes32[] fields,uint256 nonce,uint256 deadline)");
    bytes32 public constant ATTEST_TYPEHASH =
        keccak256(
            "Attest(address issuer,address resident,bytes32 field,bytes32 commitment,uint64 issuedAt,uint64 expiresAt)"
        );
    bytes32 public constant SET_DEPARTMENT_ACTIVE_TYPEHASH =
        keccak256("SetDepartmentActive(address department,bool active,uint256 nonce,uint256 deadline)");
    bytes32 public constant REVOKE_ROLE_TYPEHASH =
        keccak256("RevokeRole(bytes32 role,address account,uint256 nonce,uint256 deadline)");
    bytes32 public constant DISTRUST_ISSUER_TYPEHASH =
        keccak256("DistrustIssuer(address issuer,bytes32[] fields,uint256 nonce,uint256 deadline)");
    bytes32 public constant ROTATE_DEPARTMENT_KEY_TYPEHASH =
        keccak256("RotateDepartmentKey(address department,bytes encryptionKey,uint256 nonce,uint256 deadline)");
    bytes32 public constant SET_PURPOSE_POLICY_TYPEHASH =
        keccak256("SetPurposePolicy(bytes32 purpose,bytes32[] fields,uint64 maxDuration,uint256 nonce,uint256 deadline)");
    bytes32 public constant SERVICE_ITEM_TYPEHASH =
        keccak256("ServiceItem(address department,bytes32[] fields,bytes32 purpose,uint64 duration,uint32 maxUses)");
    bytes32 public constant DEFINE_SERVICE_TYPEHASH =
        keccak256(
            "DefineService(bytes32 service,string name,ServiceItem[] items,uint256 nonce,uint256 deadline)ServiceItem(address department,bytes32[] fields,bytes32 purpose,uint64 duration,uint32 maxUses)"
        );

    /// @notice The most items (departments) a service may have.
    uint256 public constant MAX_SERVICE_ITEMS = 16;
    /// @notice The longest a service's name may be, in bytes.
    uint256 public constant MAX_SERVICE_NAME = 200;

    /// @notice How far an attestation's `issuedAt` may lie from the recording block's time.
    uint64 public constant ATTEST_TIME_WINDOW = 5 minutes;

    struct Trust {
        uint64 since;
        uint64 until;
    }

    mapping(address department => Department) private _departments;
    address[] private _departmentList;
    mapping(bytes32 field => bool) private _isField;
    bytes32[] private _fieldList;
    /// @dev Whether a purpose is defined, and its policy, in one word: a scope check reads
    /// the policy with the purpose at no extra cost.
    mapping(bytes32 purpose => Purpose) private _purposes;
    /// @dev The fields a purpose's policy allows (while `limitsFields`), listed and by field.
    mapping(bytes32 purpose => bytes32[] fields) private _policyFields;
    mapping(bytes32 purpose => mapping(bytes32 field => bool)) private _policyAllows;
    bytes32[] private _purposeList;
    /// @dev Every window in which `issuer` was trusted for `field`, oldest first; the last
    /// one is open (`until` 0) while the trust lasts.
    // slither-disable-next-line uninitialized-state (written by _trustIssuer's push through a storage pointer)
    mapping(address issuer => mapping(bytes32 field => Trust[])) private _trust;
    mapping(address issuer => bytes32[] fields) private _issuerFields;
    /// @dev When each recorded attestation (by EIP-712 digest) was recorded; 0: never.
    mapping(bytes32 digest => uint64 recordedAt) private _attestations;
    /// @dev Each service's name and items as last defined; `_serviceList` in definition order.
    mapping(bytes32 service => string name) private _serviceNames;
    mapping(bytes32 service => ServiceItem[] items) private _serviceItems;
    bytes32[] private _serviceList;
    mapping(address department => bytes32[] fields) private _emergencyFields;

    /**
     * @dev Makes `admin` the governance admin and `relayer` the first relayer, and seeds
     * the schema.
     */
    constructor(address admin, address relayer, bytes32[] memory fields, bytes32[] memory purposes) {
        if (admin == address(0) || relayer == address(0)) revert ConsentDirectoryZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(RELAYER_ROLE, relayer);
        for (uint256 i = 0; i < fields.length; ++i) _defineField(fields[i]);
        for (uint256 i = 0; i < purposes.length; ++i) _definePurpose(purposes[i]);
    }

    // ---------------------------------------------------------------- signed intents

    /**
     * @notice Registers a department, its name, code and HPKE public key, and grants it
     * `DEPARTMENT_ROLE`.
     *
     * Requirements:
     * - the caller is a relayer; the signature is the admin's, unexpired, nonce unused;
     * - `department` is non-zero and not yet registered; `name`, `code` and
     *   `encryptionKey` are non-empty.
     *
     * Emits a {DepartmentRegistered} event.
     */
    function registerDepartment(RegisterDepartment calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(
                REGISTER_DEPARTMENT_TYPEHASH,
                intent.department,
                keccak256(bytes(intent.name)),
                keccak256(bytes(intent.code)),
                keccak256(intent.encryptionKey),
                intent.nonce,
                intent.deadline
            )
        );
        address admin = _verifyAnySigner(structHash, signature, intent.nonce, intent.deadline);
        _requireSignerRole(DEFAULT_ADMIN_ROLE, admin);
        if (intent.department == address(0)) revert ConsentDirectoryZeroAddress();
        if (bytes(intent.name).length == 0 || bytes(intent.code).length == 0 || intent.encryptionKey.length == 0) {
            revert ConsentDirectoryInvalidDepartment(intent.department);
        }
        Department storage department = _departments[intent.department];
        if (department.registered) revert ConsentDirectoryDepartmentExists(intent.department);
        department.name = intent.name;
        department.code = intent.code;
        department.encryptionKey = intent.encryptionKey;
        department.registered = true;
        department.active = true;
        _departmentList.push(intent.department);
        _grantRole(DEPARTMENT_ROLE, intent.department);
        emit DepartmentRegistered(intent.department, admin, intent.name, intent.code, intent.encryptionKey);
    }

    /**
     * @notice Grants `role` (registrar, issuer, auditor or relayer) to `account`; an
     * issuer becomes trusted for `fields` from this block on (fields it is already
     * trusted for keep their window; earlier windows stay on record).
     *
     * Requirements:
     * - the caller is a relayer; the signature is by an admin of `role`, unexpired, nonce
     *   unused;
     * - `role` is not the admin or department role (departments are registered);
     * - `fields` is non-empty, strictly ascending and defined for an issuer, and empty
     *   otherwise.
     *
     * Emits a {RoleAssigned} event, a {RoleGranted} event if the role is new, and an
     * {IssuerTrusted} event per field.
     */
    function assignRole(GrantRole calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(
                GRANT_ROLE_TYPEHASH,
                intent.role,
                intent.account,
                _hashArray(intent.fields),
                intent.nonce,
                intent.deadline
            )
        );
        address admin = _verifyAnySigner(structHash, signature, intent.nonce, intent.deadline);
        _requireSignerRole(getRoleAdmin(intent.role), admin);
        if (intent.account == address(0)) revert ConsentDirectoryZeroAddress();
        bytes32 role = intent.role;
        if (
            role != REGISTRAR_ROLE &&
            role != ISSUER_ROLE &&
            role != AUDITOR_ROLE &&
            role != RELAYER_ROLE &&
            role != EMERGENCY_ROLE
        ) {
            revert ConsentDirectoryUnsupportedRole(role);
        }
        if (role == ISSUER_ROLE) {
            _checkFields(intent.fields);
            for (uint256 i = 0; i < intent.fields.length; ++i) _trustIssuer(intent.account, intent.fields[i]);
        } else if (role == EMERGENCY_ROLE) {
            if (!_departments[intent.account].registered) revert ConsentDirectoryUnknownDepartment(intent.account);
            _checkFields(intent.fields);
            _emergencyFields[intent.account] = intent.fields;
        } else if (intent.fields.length != 0) {
            revert ConsentDirectoryUnexpectedFields(role);
        }
        _grantRole(role, intent.account);
        emit RoleAssigned(role, intent.account, admin, intent.fields);
    }

    /**
     * @notice Submits many {registerDepartment} intents; each bad one is refused on its own.
     *
     * Emits an {IntentRejected} event for each refused intent.
     */
    function registerDepartmentBatch(RegisterDepartment[] calldata intents, bytes[] calldata signatures)
        external
        onlyRelayer
    {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(
                REGISTER_DEPARTMENT_TYPEHASH,
                i,
                abi.encodeCall(this.registerDepartment, (intents[i], signatures[i]))
            );
        }
    }

    /**
     * @notice Submits many {assignRole} intents; each bad one is refused on its own.
     *
     * Emits an {IntentRejected} event for each refused intent.
     */
    function assignRoleBatch(GrantRole[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(GRANT_ROLE_TYPEHASH, i, abi.encodeCall(this.assignRole, (intents[i], signatures[i])));
        }
    }

    /**
     * @notice Suspends (`active` false) or reinstates a department from this block on. A
     * suspended department can neither request nor be granted access, and its queries are
     * denied `not_granted`.
     *
     * Requirements:
     * - the caller is a relayer; the signature is the admin's, unexpired, nonce unused;
     * - the department is registered; to reinstate it, it still holds `DEPARTMENT_ROLE`
     *   (a revoked department stays off).
     *
     * Emits a {DepartmentActivationChanged} event if the state changed, then a
     * {DepartmentSuspended} or {DepartmentReinstated} event.
     */
    function changeDepartmentActive(SetDepartmentActive calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(
                SET_DEPARTMENT_ACTIVE_TYPEHASH,
                intent.department,
                intent.active,
                intent.nonce,
                intent.deadline
            )
        );
        address admin = _verifyAnySigner(structHash, signature, intent.nonce, intent.deadline);
        _requireSignerRole(DEFAULT_ADMIN_ROLE, admin);
        _setActive(intent.department, intent.active);
        if (intent.active) {
            emit DepartmentReinstated(intent.department, admin);
        } else {
            emit DepartmentSuspended(intent.department, admin);
        }
    }

    /**
     * @notice Takes `role` away from `account` from this block on. An issuer loses its trust
     * for every field; a department is suspended for good (it cannot be reinstated).
     *
     * Requirements:
     * - the caller is a relayer; the signature is by an admin of `role`, unexpired, nonce
     *   unused;
     * - `account` is non-zero; `role` is registrar, issuer, auditor, relayer or department.
     *
     * Emits a {RoleRevoked} event if `account` held the role (and what revoking it
     * entails: {IssuerDistrusted}, {DepartmentActivationChanged}), then a {RoleRemoved} event.
     */
    function removeRole(RevokeRole calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(REVOKE_ROLE_TYPEHASH, intent.role, intent.account, intent.nonce, intent.deadline)
        );
        address admin = _verifyAnySigner(structHash, signature, intent.nonce, intent.deadline);
        bytes32 role = intent.role;
        _requireSignerRole(getRoleAdmin(role), admin);
        if (intent.account == address(0)) revert ConsentDirectoryZeroAddress();
        if (
            role != REGISTRAR_ROLE &&
            role != ISSUER_ROLE &&
            role != AUDITOR_ROLE &&
            role != RELAYER_ROLE &&
            role != DEPARTMENT_ROLE &&
            role != EMERGENCY_ROLE
        ) {
            revert ConsentDirectoryUnsupportedRole(role);
        }
        _revokeRole(role, intent.account);
        emit RoleRemoved(role, intent.account, admin);
    }

    /**
     * @notice Ends the trust in `issuer` for `fields` from this block on: it can no longer
     * have attestations of them recorded. Attestations recorded before stay on record.
     *
     * Requirements:
     * - the caller is a relayer; the signature is the admin's, unexpired, nonce unused;
     * - `fields` is non-empty, strictly ascending and defined.
     *
     * Emits an {IssuerDistrusted} event per field that was trusted, then an
     * {IssuerTrustEnded} event.
     */
    function endIssuerTrust(DistrustIssuer calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(
                DISTRUST_ISSUER_TYPEHASH,
                intent.issuer,
                _hashArray(intent.fields),
                intent.nonce,
                intent.deadline
            )
        );
        address admin = _verifyAnySigner(structHash, signature, intent.nonce, intent.deadline);
        _requireSignerRole(DEFAULT_ADMIN_ROLE, admin);
        _checkFields(intent.fields);
        for (uint256 i = 0; i < intent.fields.length; ++i) _distrustIssuer(intent.issuer, intent.fields[i]);
        emit IssuerTrustEnded(intent.issuer, admin, intent.fields);
    }

    /**
     * @notice Replaces a department's HPKE public key: grants from this block on wrap
     * their field keys for the new one (keys wrapped before stay as they were).
     *
     * Requirements:
     * - the caller is a relayer; the signature is the admin's, unexpired, nonce unused;
     * - the department is registered; `encryptionKey` is non-empty.
     *
     * Emits a {DepartmentKeyRotated} event.
     */
    function rotateDepartmentKey(RotateDepartmentKey calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(
                ROTATE_DEPARTMENT_KEY_TYPEHASH,
                intent.department,
                keccak256(intent.encryptionKey),
                intent.nonce,
                intent.deadline
            )
        );
        address admin = _verifyAnySigner(structHash, signature, intent.nonce, intent.deadline);
        _requireSignerRole(DEFAULT_ADMIN_ROLE, admin);
        Department storage entry = _departments[intent.department];
        if (!entry.registered) revert ConsentDirectoryUnknownDepartment(intent.department);
        if (intent.encryptionKey.length == 0) revert ConsentDirectoryInvalidDepartment(intent.department);
        entry.encryptionKey = intent.encryptionKey;
        emit DepartmentKeyRotated(intent.department, admin, intent.encryptionKey);
    }

    /**
     * @notice Records an issuer's attestation. Trust is judged now, at this block: an
     * issuer distrusted since cannot have an attestation recorded, whatever `issuedAt` it
     * writes, and `issuedAt` must be this block's time give or take {ATTEST_TIME_WINDOW}.
     * Returns the attestation's EIP-712 digest, by which {attestationRecordedAt} finds it.
     *
     * Requirements:
     * - the caller is a relayer; the signature is `issuer`'s;
     * - `issuedAt` within {ATTEST_TIME_WINDOW} of block time; `expiresAt` after both;
     * - `issuer` is trusted for `field` at this block;
     * - the same attestation was not recorded before (a replay is refused).
     *
     * Emits an {AttestationRecorded} event.
     */
    function recordAttestation(Attest calldata intent, bytes calldata signature) external onlyRelayer returns (bytes32 digest) {
        digest = hashAttest(intent);
        address issuer = intent.issuer;
        bytes memory error = _signatureError(issuer, digest, signature);
        if (error.length != 0) _raise(error);
        uint256 issuedAt = intent.issuedAt;
        if (issuedAt + ATTEST_TIME_WINDOW < block.timestamp || issuedAt > block.timestamp + ATTEST_TIME_WINDOW) {
            revert ConsentDirectoryAttestationTime(intent.issuedAt, block.timestamp);
        }
        if (intent.expiresAt <= issuedAt || intent.expiresAt <= block.timestamp) {
            revert ConsentDirectoryAttestationPeriod(intent.issuedAt, intent.expiresAt);
        }
        uint64 recordedAt = uint64(block.timestamp);
        if (!isTrustedIssuer(issuer, intent.field, recordedAt)) {
            revert ConsentDirectoryUntrustedIssuer(issuer, intent.field);
        }
        if (_attestations[digest] != 0) revert ConsentDirectoryAttestationRecorded(digest);
        _attestations[digest] = recordedAt;
        emit AttestationRecorded(
            digest,
            issuer,
            intent.resident,
            intent.field,
            intent.commitment,
            intent.issuedAt,
            intent.expiresAt,
            recordedAt
        );
    }

    /// @notice Submits many {changeDepartmentActive} intents; emits {IntentRejected} for each refused one.
    function changeDepartmentActiveBatch(SetDepartmentActive[] calldata intents, bytes[] calldata signatures)
        external
        onlyRelayer
    {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(
                SET_DEPARTMENT_ACTIVE_TYPEHASH,
                i,
                abi.encodeCall(this.changeDepartmentActive, (intents[i], signatures[i]))
            );
        }
    }

    /// @notice Submits many {removeRole} intents; emits {IntentRejected} for each refused one.
    function removeRoleBatch(RevokeRole[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(REVOKE_ROLE_TYPEHASH, i, abi.encodeCall(this.removeRole, (intents[i], signatures[i])));
        }
    }

    /// @notice Submits many {endIssuerTrust} intents; emits {IntentRejected} for each refused one.
    function endIssuerTrustBatch(DistrustIssuer[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(DISTRUST_ISSUER_TYPEHASH, i, abi.encodeCall(this.endIssuerTrust, (intents[i], signatures[i])));
        }
    }

    /// @notice Submits many {rotateDepartmentKey} intents; emits {IntentRejected} for each refused one.
    function rotateDepartmentKeyBatch(RotateDepartmentKey[] calldata intents, bytes[] calldata signatures)
        external
        onlyRelayer
    {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(
                ROTATE_DEPARTMENT_KEY_TYPEHASH,
                i,
                abi.encodeCall(this.rotateDepartmentKey, (intents[i], signatures[i]))
            );
        }
    }

    /// @notice Submits many {recordAttestation} intents; emits {IntentRejected} for each refused one.
    function recordAttestationBatch(Attest[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(ATTEST_TYPEHASH, i, abi.encodeCall(this.recordAttestation, (intents[i], signatures[i])));
        }
    }

    /**
     * @notice Sets `purpose`'s policy: the fields it may ever cover (empty: any field) and
     * the longest a consent or request for it may last (0: no limit). It applies to grants
     * and requests from this block on; consents already granted keep their terms.
     *
     * Requirements:
     * - the caller is a relayer; the signature is the admin's, unexpired, nonce unused;
     * - `purpose` is defined; `fields` strictly ascending and defined.
     *
     * Emits a {PurposePolicySet} event.
     */
    function setPurposePolicy(SetPurposePolicy calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(
                SET_PURPOSE_POLICY_TYPEHASH,
                intent.purpose,
                _hashArray(intent.fields),
                intent.maxDuration,
                intent.nonce,
                intent.deadline
            )
        );
        address admin = _verifyAnySigner(structHash, signature, intent.nonce, intent.deadline);
        _requireSignerRole(DEFAULT_ADMIN_ROLE, admin);
        Purpose storage entry = _purposes[intent.purpose];
        if (!entry.defined) revert ConsentDirectoryUnknownPurpose(intent.purpose);
        bool limitsFields = intent.fields.length != 0;
        if (limitsFields) _checkFields(intent.fields);
        bytes32[] storage listed = _policyFields[intent.purpose];
        for (uint256 i = 0; i < listed.length; ++i) delete _policyAllows[intent.purpose][listed[i]];
        delete _policyFields[intent.purpose];
        for (uint256 i = 0; i < intent.fields.length; ++i) {
            listed.push(intent.fields[i]);
            _policyAllows[intent.purpose][intent.fields[i]] = true;
        }
        entry.limitsFields = limitsFields;
        entry.maxDuration = intent.maxDuration;
        emit PurposePolicySet(intent.purpose, admin, intent.fields, intent.maxDuration);
    }

    /**
     * @notice Defines `service`, or replaces its definition: from this block on a bundle
     * for it must fit these items. Consents granted under an earlier definition keep their
     * own terms.
     *
     * Requirements:
     * - the caller is a relayer; the signature is the admin's, unexpired, nonce unused;
     * - `service` is a valid name; `name` is 1 to {MAX_SERVICE_NAME} bytes; 1 to
     *   {MAX_SERVICE_ITEMS} items, each naming a registered department, defined fields
     *   (strictly ascending) within its purpose's policy, a defined purpose and a non-zero
     *   duration within the policy's longest.
     *
     * Emits a {ServiceDefined} event.
     */
    function defineService(DefineService calldata intent, bytes calldata signature) external onlyRelayer {
        ServiceItem[] calldata items = intent.items;
        bytes32[] memory itemHashes = new bytes32[](items.length);
        for (uint256 i = 0; i < items.length; ++i) itemHashes[i] = _hashServiceItem(items[i]);
        bytes32 structHash = keccak256(
            abi.encode(
                DEFINE_SERVICE_TYPEHASH,
                intent.service,
                keccak256(bytes(intent.name)),
                keccak256(abi.encodePacked(itemHashes)),
                intent.nonce,
                intent.deadline
            )
        );
        address admin = _verifyAnySigner(structHash, signature, intent.nonce, intent.deadline);
        _requireSignerRole(DEFAULT_ADMIN_ROLE, admin);
        _checkName(intent.service);
        uint256 nameLength = bytes(intent.name).length;
        if (nameLength == 0 || nameLength > MAX_SERVICE_NAME) revert ConsentDirectoryInvalidServiceName();
        if (items.length == 0 || items.length > MAX_SERVICE_ITEMS) {
            revert ConsentDirectoryServiceItemCount(items.length, MAX_SERVICE_ITEMS);
        }
        for (uint256 i = 0; i < items.length; ++i) {
            ServiceItem calldata item = items[i];
            if (!_departments[item.department].registered) revert ConsentDirectoryUnknownDepartment(item.department);
            (bytes memory error, uint64 maxDuration) = scopeLimit(item.fields, item.purpose);
            if (error.length != 0) _raise(error);
            if (item.duration == 0) revert ConsentDirectoryServiceZeroDuration(i);
            if (maxDuration != 0 && item.duration > maxDuration) {
                revert ConsentDirectoryBundleWindowTooLong(i, item.duration, maxDuration);
            }
        }
        if (bytes(_serviceNames[intent.service]).length == 0) _serviceList.push(intent.service);
        _serviceNames[intent.service] = intent.name;
        ServiceItem[] storage stored = _serviceItems[intent.service];
        delete _serviceItems[intent.service];
        for (uint256 i = 0; i < items.length; ++i) {
            ServiceItem storage item = stored.push();
            item.department = items[i].department;
            item.fields = items[i].fields;
            item.purpose = items[i].purpose;
            item.duration = items[i].duration;
            item.maxUses = items[i].maxUses;
        }
        emit ServiceDefined(intent.service, admin, intent.name, items);
    }

    /// @notice Submits many {defineService} intents; each bad one is refused on its own.
    function defineServiceBatch(DefineService[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(DEFINE_SERVICE_TYPEHASH, i, abi.encodeCall(this.defineService, (intents[i], signatures[i])));
        }
    }

    /// @notice Submits many {setPurposePolicy} intents; each bad one is refused on its own.
    function setPurposePolicyBatch(SetPurposePolicy[] calldata intents, bytes[] calldata signatures)
        external
        onlyRelayer
    {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(
                SET_PURPOSE_POLICY_TYPEHASH,
                i,
                abi.encodeCall(this.setPurposePolicy, (intents[i], signatures[i]))
            );
        }
    }

    // ---------------------------------------------------------------- admin

    /**
     * @notice Adds fields to the schema.
     *
     * Requirements: the caller is the admin; each field is a valid, new name.
     *
     * Emits a {FieldDefined} event per field.
     */
    function defineFields(bytes32[] calldata fields) external onlyRole(DEFAULT_ADMIN_ROLE) {
        for (uint256 i = 0; i < fields.length; ++i) _defineField(fields[i]);
    }

    /**
     * @notice Adds purpose codes.
     *
     * Requirements: the caller is the admin; each purpose is a valid, new name.
     *
     * Emits a {PurposeDefined} event per purpose.
     */
    function definePurposes(bytes32[] calldata purposes) external onlyRole(DEFAULT_ADMIN_ROLE) {
        for (uint256 i = 0; i < purposes.length; ++i) _definePurpose(purposes[i]);
    }

    /**
     * @notice Suspends (`active` false) or reinstates a department: {changeDepartmentActive}
     * called by the admin's own account.
     *
     * Requirements: the caller is the admin; the department is registered; to reinstate
     * it, it still holds `DEPARTMENT_ROLE`.
     *
     * Emits a {DepartmentActivationChanged} event if the state changed.
     */
    function setDepartmentActive(address department, bool active) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setActive(department, active);
    }

    /**
     * @notice Ends the trust in `issuer` for `fields` from this block on; attestations
     * issued before stay verifiable as of their issue time.
     *
     * Requirements: the caller is the admin.
     *
     * Emits an {IssuerDistrusted} event per field that was trusted.
     */
    function distrustIssuer(address issuer, bytes32[] calldata fields) external onlyRole(DEFAULT_ADMIN_ROLE) {
        for (uint256 i = 0; i < fields.length; ++i) _distrustIssuer(issuer, fields[i]);
    }

    // ---------------------------------------------------------------- views

    /// @notice A department's directory entry (empty and `registered` false if unknown).
    function department(address account) external view returns (Department memory) {
        return _departments[account];
    }

    /// @notice Every registered department, in registration order.
    function departments() external view returns (address[] memory) {
        return _departmentList;
    }

    /**
     * @notice The roles `account` holds, one bit each: 0 admin, 1 registrar, 2 department
     * (registered and active), 3 issuer, 4 auditor, 5 relayer, 7 emergency (bit 6 is the
     * ledger's: enrolled resident). One call for what an API would otherwise ask in seven.
     */
    function rolesOf(address account) public view returns (uint256 roles) {
        if (hasRole(DEFAULT_ADMIN_ROLE, account)) roles |= 1;
        if (hasRole(REGISTRAR_ROLE, account)) roles |= 1 << 1;
        if (_departments[account].active) roles |= 1 << 2;
        if (hasRole(ISSUER_ROLE, account)) roles |= 1 << 3;
        if (hasRole(AUDITOR_ROLE, account)) roles |= 1 << 4;
        if (hasRole(RELAYER_ROLE, account)) roles |= 1 << 5;
        if (hasRole(EMERGENCY_ROLE, account)) roles |= 1 << 7;
    }

    /// @notice The fields an emergency department may read under a directive (empty
    /// without the role).
    function emergencyFields(address account) external view returns (bytes32[] memory) {
        return _emergencyFields[account];
    }

    /// @inheritdoc IConsentDirectory
    function isActiveDepartment(address account) external view returns (bool) {
        return _departments[account].active;
    }

    /// @inheritdoc IConsentDirectory
    function departmentStatus(address account) external view returns (bool registered, bool active) {
        Department storage entry = _departments[account];
        return (entry.registered, entry.active);
    }

    /// @notice The schema's field ids, in definition order.
    function fields() external view returns (bytes32[] memory) {
        return _fieldList;
    }

    /// @notice The purpose codes, in definition order.
    function purposes() external view returns (bytes32[] memory) {
        return _purposeList;
    }

    /// @notice A purpose's policy: the fields it may cover (empty: any) and its longest
    /// duration in seconds (0: no limit).
    function purposePolicy(bytes32 purpose) external view returns (bytes32[] memory fields_, uint64 maxDuration) {
        return (_policyFields[purpose], _purposes[purpose].maxDuration);
    }

    /// @inheritdoc IConsentDirectory
    function isTrustedIssuer(address issuer, bytes32 field, uint64 at) public view returns (bool) {
        Trust[] storage windows = _trust[issuer][field];
        for (uint256 i = windows.length; i > 0; --i) {
            Trust memory trust = windows[i - 1];
            if (trust.since <= at) return trust.until == 0 || at < trust.until;
        }
        return false;
    }

    /// @notice Every window of trust in `issuer` for `field`, oldest first.
    function issuerTrustHistory(address issuer, bytes32 field) external view returns (Trust[] memory) {
        return _trust[issuer][field];
    }

    /**
     * @notice Reverts unless `fields` is a non-empty, strictly ascending list of defined
     * fields and `purpose` is defined.
     */
    function checkScope(bytes32[] calldata fieldIds, bytes32 purpose) external view {
        bytes memory error = scopeError(fieldIds, purpose);
        if (error.length != 0) _raise(error);
    }

    /// @notice The error {checkScope} would revert with, ABI-encoded; empty if none.
    function scopeError(bytes32[] calldata fieldIds, bytes32 purpose) public view returns (bytes memory error) {
        (error, ) = scopeLimit(fieldIds, purpose);
    }

    /**
     * @notice {scopeError}, which includes the purpose's policy on fields, and the policy's
     * longest duration (0: no limit) for the caller to hold a window or duration to.
     */
    function scopeLimit(
        bytes32[] calldata fieldIds,
        bytes32 purpose
    ) public view returns (bytes memory error, uint64 maxDuration) {
        error = _fieldsError(fieldIds);
        if (error.length != 0) return (error, 0);
        Purpose memory entry = _purposes[purpose];
        if (!entry.defined) return (abi.encodeWithSelector(ConsentDirectoryUnknownPurpose.selector, purpose), 0);
        if (entry.limitsFields) {
            mapping(bytes32 field => bool) storage allows = _policyAllows[purpose];
            for (uint256 i = 0; i < fieldIds.length; ++i) {
                if (!allows[fieldIds[i]]) {
                    return (
                        abi.encodeWithSelector(ConsentDirectoryPolicyFieldNotAllowed.selector, purpose, fieldIds[i]),
                        0
                    );
                }
            }
        }
        return ("", entry.maxDuration);
    }

    /// @notice Every defined service, in the order first defined.
    function services() external view returns (bytes32[] memory) {
        return _serviceList;
    }

    /// @notice A service's name and items as last defined (empty if unknown).
    function service(bytes32 id) external view returns (string memory name, ServiceItem[] memory items) {
        return (_serviceNames[id], _serviceItems[id]);
    }

    /// @inheritdoc IConsentDirectory
    function bundleItemError(
        bytes32 serviceId,
        uint256 index,
        address department,
        bytes32[] calldata fieldIds,
        bytes32 purpose,
        uint64 duration,
        uint32 maxUses
    ) external view returns (bytes memory error, uint256 itemCount) {
        ServiceItem[] storage items = _serviceItems[serviceId];
        itemCount = items.length;
        if (itemCount == 0) return (abi.encodeWithSelector(ConsentDirectoryUnknownService.selector, serviceId), 0);
        if (index >= itemCount) {
            error = abi.encodeWithSelector(ConsentDirectoryBundleItemCount.selector, serviceId, itemCount, index + 1);
            return (error, itemCount);
        }
        ServiceItem storage item = items[index];
        if (item.department != department || item.purpose != purpose) {
            error = abi.encodeWithSelector(ConsentDirectoryBundleItemMismatch.selector, index, department, purpose);
            return (error, itemCount);
        }
        // The item's department was registered when the service was defined; a department
        // is never unregistered, only suspended.
        if (!_departments[department].active) {
            return (abi.encodeWithSelector(IConsentLedger.ConsentLedgerInactiveDepartment.selector, department), itemCount);
        }
        // A subset of the item's fields, strictly ascending: one walk over both lists. The
        // item's fields were defined when it was, and fields are never undefined.
        if (fieldIds.length == 0) return (abi.encodeWithSelector(ConsentDirectoryEmptyFields.selector), itemCount);
        bytes32[] storage allowed = item.fields;
        uint256 j = 0;
        for (uint256 i = 0; i < fieldIds.length; ++i) {
            if (i > 0 && fieldIds[i] <= fieldIds[i - 1]) {
                return (abi.encodeWithSelector(ConsentDirectoryUnsortedFields.selector, i), itemCount);
            }
            while (j < allowed.length && allowed[j] < fieldIds[i]) ++j;
            if (j == allowed.length || allowed[j] != fieldIds[i]) {
                error = abi.encodeWithSelector(ConsentDirectoryBundleFieldOutsideService.selector, index, fieldIds[i]);
                return (error, itemCount);
            }
        }
        // The purpose's policy now (it may have changed since the service was defined).
        Purpose memory policy = _purposes[purpose];
        if (policy.limitsFields) {
            mapping(bytes32 field => bool) storage allows = _policyAllows[purpose];
            for (uint256 i = 0; i < fieldIds.length; ++i) {
                if (!allows[fieldIds[i]]) {
                    error = abi.encodeWithSelector(ConsentDirectoryPolicyFieldNotAllowed.selector, purpose, fieldIds[i]);
                    return (error, itemCount);
                }
            }
        }
        uint64 limit = item.duration;
        if (policy.maxDuration != 0 && policy.maxDuration < limit) limit = policy.maxDuration;
        if (duration > limit) {
            error = abi.encodeWithSelector(ConsentDirectoryBundleWindowTooLong.selector, index, duration, limit);
            return (error, itemCount);
        }
        if (item.maxUses != 0 && (maxUses == 0 || maxUses > item.maxUses)) {
            error = abi.encodeWithSelector(ConsentDirectoryBundleUsesAboveCap.selector, index, maxUses, item.maxUses);
            return (error, itemCount);
        }
        return ("", itemCount);
    }

    /// @notice The EIP-712 digest of an attestation under this contract's domain.
    function hashAttest(Attest calldata attest) public view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(
                        ATTEST_TYPEHASH,
                        attest.issuer,
                        attest.resident,
                        attest.field,
                        attest.commitment,
                        attest.issuedAt,
                        attest.expiresAt
                    )
                )
            );
    }

    /// @notice When the attestation with this EIP-712 digest was recorded (0: never).
    function attestationRecordedAt(bytes32 digest) external view returns (uint64) {
        return _attestations[digest];
    }

    /**
     * @notice Whether `signature` is `attest.issuer`'s over `attest` and the attestation is
     * on record here, which it is only if the issuer was trusted for the field at the
     * recording block. Expiry, and whether the issuer is still trusted, are the reader's
     * to judge ({isTrustedIssuer} at the reader's time).
     */
    function verifyAttestation(Attest calldata attest, bytes calldata signature) external view returns (bool) {
        bytes32 digest = hashAttest(attest);
        return _signatureError(attest.issuer, digest, signature).length == 0 && _attestations[digest] != 0;
    }

    /// @inheritdoc IConsentDirectory
    function hasRole(
        bytes32 role,
        address account
    ) public view override(AccessControl, IConsentDirectory) returns (bool) {
        return super.hasRole(role, account);
    }

    // ---------------------------------------------------------------- internals

    function _isRelayer(address account) internal view override returns (bool) {
        return hasRole(RELAYER_ROLE, account);
    }

    /// @dev Opens a window of trust unless one is open: re-granting keeps history intact.
    function _trustIssuer(address issuer, bytes32 field) private {
        Trust[] storage windows = _trust[issuer][field];
        if (windows.length != 0 && windows[windows.length - 1].until == 0) return;
        if (windows.length == 0) _issuerFields[issuer].push(field);
        uint64 since = uint64(block.timestamp);
        windows.push(Trust(since, 0));
        emit IssuerTrusted(issuer, field, since);
    }

    function _distrustIssuer(address issuer, bytes32 field) private {
        Trust[] storage windows = _trust[issuer][field];
        if (windows.length == 0 || windows[windows.length - 1].until != 0) return;
        uint64 until = uint64(block.timestamp);
        windows[windows.length - 1].until = until;
        emit IssuerDistrusted(issuer, field, until);
    }

    /**
     * @dev Taking `ISSUER_ROLE` away (revoke or renounce) ends the trust for every field;
     * taking `DEPARTMENT_ROLE` away suspends the department for good.
     */
    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked && role == ISSUER_ROLE) {
            bytes32[] storage issued = _issuerFields[account];
            for (uint256 i = 0; i < issued.length; ++i) _distrustIssuer(account, issued[i]);
        } else if (revoked && role == EMERGENCY_ROLE) {
            delete _emergencyFields[account];
        } else if (revoked && role == DEPARTMENT_ROLE && _departments[account].active) {
            _departments[account].active = false;
            emit DepartmentActivationChanged(account, false);
        }
    }

    function _setActive(address department, bool active) private {
        Department storage entry = _departments[department];
        if (!entry.registered) revert ConsentDirectoryUnknownDepartment(department);
        if (active && !hasRole(DEPARTMENT_ROLE, department)) revert ConsentDirectoryDepartmentRevoked(department);
        if (entry.active == active) return;
        entry.active = active;
        emit DepartmentActivationChanged(department, active);
    }

    function _hashServiceItem(ServiceItem calldata item) private pure returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    SERVICE_ITEM_TYPEHASH,
                    item.department,
                    _hashArray(item.fields),
                    item.purpose,
                    item.duration,
                    item.maxUses
                )
            );
    }

    function _requireSignerRole(bytes32 role, address signer) private view {
        if (!hasRole(role, signer)) revert ConsentDirectoryUnauthorizedSigner(signer, role);
    }

    function _checkFields(bytes32[] calldata fieldIds) private view {
        bytes memory error = _fieldsError(fieldIds);
        if (error.length != 0) _raise(error);
    }

    function _fieldsError(bytes32[] calldata fieldIds) private view returns (bytes memory) {
        if (fieldIds.length == 0) return abi.encodeWithSelector(ConsentDirectoryEmptyFields.selector);
        for (uint256 i = 0; i < fieldIds.length; ++i) {
            if (i > 0 && fieldIds[i] <= fieldIds[i - 1]) {
                return abi.encodeWithSelector(ConsentDirectoryUnsortedFields.selector, i);
            }
            if (!_isField[fieldIds[i]]) return abi.encodeWithSelector(ConsentDirectoryUnknownField.selector, fieldIds[i]);
        }
        return "";
    }

    function _defineField(bytes32 field) private {
        _checkName(field);
        if (_isField[field]) revert ConsentDirectoryFieldExists(field);
        _isField[field] = true;
        _fieldList.push(field);
        emit FieldDefined(field);
    }

    function _definePurpose(bytes32 purpose) private {
        _checkName(purpose);
        if (_purposes[purpose].defined) revert ConsentDirectoryPurposeExists(purpose);
        _purposes[purpose].defined = true;
        _purposeList.push(purpose);
        emit PurposeDefined(purpose);
    }

    /// @dev A name is printable ASCII without spaces, right-padded with zero bytes.
    function _checkName(bytes32 name) private pure {
        bool ended = false;
        for (uint256 i = 0; i < 32; ++i) {
            uint8 char = uint8(name[i]);
            if (char == 0) {
                ended = true;
            } else if (ended || char < 0x21 || char > 0x7e) {
                revert ConsentDirectoryInvalidName(name);
            }
        }
        if (name[0] == 0) revert ConsentDirectoryInvalidName(name);
    }
}
