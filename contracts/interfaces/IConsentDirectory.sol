// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @title IConsentDirectory
 * @dev Governance of the ledger: roles, the department directory, the field schema,
 * purpose codes and the issuer trust list. Field ids and purpose codes are short ASCII
 * names right-padded into `bytes32` (`"income"`, `"HOUSING"`).
 */
interface IConsentDirectory {
    /// @dev Signed by the admin: register a department with its HPKE public key.
    struct RegisterDepartment {
        address department;
        string name;
        string code;
        bytes encryptionKey;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by the admin of `role`: make `account` registrar, issuer (of `fields`),
    /// auditor or relayer.
    struct GrantRole {
        bytes32 role;
        address account;
        bytes32[] fields;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by the admin: suspend (`active` false) or reinstate a department.
    struct SetDepartmentActive {
        address department;
        bool active;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by the admin of `role`: take `role` (registrar, issuer, auditor, relayer
    /// or department) away from `account`.
    struct RevokeRole {
        bytes32 role;
        address account;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by the admin: end the trust in `issuer` for `fields`.
    struct DistrustIssuer {
        address issuer;
        bytes32[] fields;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by the admin: replace a department's published HPKE public key.
    struct RotateDepartmentKey {
        address department;
        bytes encryptionKey;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by an issuer: `commitment` is `keccak256(abi.encode(field, value, salt))`
    /// of a value the issuer vouches for. Recorded on chain (by its EIP-712 digest, at the
    /// block's time); it carries no nonce or deadline: the digest is spent once, and
    /// `issuedAt` must lie within {ATTEST_TIME_WINDOW} of the recording block.
    struct Attest {
        address issuer;
        address resident;
        bytes32 field;
        bytes32 commitment;
        uint64 issuedAt;
        uint64 expiresAt;
    }

    /// @dev Signed by the admin: the fields `purpose` may ever cover and the longest a
    /// consent or request for it may last (empty `fields` / 0: no limit). Grants and
    /// requests beyond it are refused from this block on; consents granted stay as they are.
    struct SetPurposePolicy {
        bytes32 purpose;
        bytes32[] fields;
        uint64 maxDuration;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev One department's part of a service: the most a bundle item for it may ask
    /// (fields a subset, a window no longer than `duration`, at most `maxUses` uses; 0: no cap).
    struct ServiceItem {
        address department;
        bytes32[] fields;
        bytes32 purpose;
        uint64 duration;
        uint32 maxUses;
    }

    /// @dev Signed by the admin: define (or replace) `service`, one life event several
    /// departments serve. Consents already granted under it keep their own terms.
    struct DefineService {
        bytes32 service;
        string name;
        ServiceItem[] items;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev A purpose code and its policy, packed in one storage word.
    struct Purpose {
        bool defined;
        bool limitsFields;
        uint64 maxDuration;
    }

    struct Department {
        string name;
        string code;
        bytes encryptionKey;
        bool registered;
        bool active;
    }

    error ConsentDirectoryUnauthorizedSigner(address signer, bytes32 role);
    error ConsentDirectoryZeroAddress();
    error ConsentDirectoryDepartmentExists(address department);
    error ConsentDirectoryUnknownDepartment(address department);
    error ConsentDirectoryInvalidDepartment(address department);
    error ConsentDirectoryUnsupportedRole(bytes32 role);
    error ConsentDirectoryUnexpectedFields(bytes32 role);
    error ConsentDirectoryEmptyFields();
    error ConsentDirectoryUnsortedFields(uint256 index);
    error ConsentDirectoryUnknownField(bytes32 field);
    error ConsentDirectoryUnknownPurpose(bytes32 purpose);
    error ConsentDirectoryInvalidName(bytes32 name);
    error ConsentDirectoryFieldExists(bytes32 field);
    error ConsentDirectoryPurposeExists(bytes32 purpose);
    /// @dev The department's role was revoked: it cannot be reinstated.
    error ConsentDirectoryDepartmentRevoked(address department);
    /// @dev `issuedAt` is further than {ATTEST_TIME_WINDOW} from the recording block's time.
    error ConsentDirectoryAttestationTime(uint64 issuedAt, uint256 timestamp);
    /// @dev The attestation expires at or before its issue time, or before this block.
    error ConsentDirectoryAttestationPeriod(uint64 issuedAt, uint64 expiresAt);
    /// @dev The issuer is not trusted for the field at the recording block.
    error ConsentDirectoryUntrustedIssuer(address issuer, bytes32 field);
    /// @dev This very attestation (by digest) is already recorded.
    error ConsentDirectoryAttestationRecorded(bytes32 digest);

    event DepartmentRegistered(
        address indexed department,
        address indexed admin,
        string name,
        string code,
        bytes encryptionKey
    );
    /// @dev A signed {GrantRole} took effect (whether or not `account` already held `role`).
    event RoleAssigned(bytes32 indexed role, address indexed account, address indexed admin, bytes32[] fields);
    event DepartmentActivationChanged(address indexed department, bool active);
    /// @dev A signed {SetDepartmentActive} with `active` false took effect (whether or not
    /// the department was active); from this block on it cannot request or read.
    event DepartmentSuspended(address indexed department, address indexed admin);
    /// @dev A signed {SetDepartmentActive} with `active` true took effect.
    event DepartmentReinstated(address indexed department, address indexed admin);
    /// @dev A signed {RevokeRole} took effect (whether or not `account` held `role`).
    event RoleRemoved(bytes32 indexed role, address indexed account, address indexed admin);
    /// @dev A signed {DistrustIssuer} took effect; an {IssuerDistrusted} per field that
    /// was trusted comes before it.
    event IssuerTrustEnded(address indexed issuer, address indexed admin, bytes32[] fields);
    /// @dev A signed {RotateDepartmentKey} took effect: grants from now on wrap for this key.
    event DepartmentKeyRotated(address indexed department, address indexed admin, bytes encryptionKey);
    /// @dev A signed {Attest} was recorded at `recordedAt` (this block's time), the time
    /// at which the issuer's trust was judged. `digest` is its EIP-712 digest.
    event AttestationRecorded(
        bytes32 indexed digest,
        address indexed issuer,
        address indexed resident,
        bytes32 field,
        bytes32 commitment,
        uint64 issuedAt,
        uint64 expiresAt,
        uint64 recordedAt
    );
    /// @dev `field` is outside the fields `purpose`'s policy allows.
    error ConsentDirectoryPolicyFieldNotAllowed(bytes32 purpose, bytes32 field);

    error ConsentDirectoryUnknownService(bytes32 service);
    /// @dev A service's name is empty or longer than {MAX_SERVICE_NAME} bytes.
    error ConsentDirectoryInvalidServiceName();
    /// @dev A service has no items, or more than {MAX_SERVICE_ITEMS}.
    error ConsentDirectoryServiceItemCount(uint256 count, uint256 max);
    /// @dev Service item `index` lasts zero seconds.
    error ConsentDirectoryServiceZeroDuration(uint256 index);
    /// @dev A bundle for `service` must carry its `expected` items, in order; it has `given`.
    error ConsentDirectoryBundleItemCount(bytes32 service, uint256 expected, uint256 given);
    /// @dev Bundle item `index` names another department or purpose than its service item.
    error ConsentDirectoryBundleItemMismatch(uint256 index, address department, bytes32 purpose);
    /// @dev Bundle item `index` asks for `field`, which its service item does not cover.
    error ConsentDirectoryBundleFieldOutsideService(uint256 index, bytes32 field);
    /// @dev Bundle item `index` lasts `duration` seconds; its service item allows `maxDuration`.
    error ConsentDirectoryBundleWindowTooLong(uint256 index, uint64 duration, uint64 maxDuration);
    /// @dev Bundle item `index` allows `maxUses` uses (0: no cap); its service item caps them at `cap`.
    error ConsentDirectoryBundleUsesAboveCap(uint256 index, uint32 maxUses, uint32 cap);

    /// @dev A signed {DefineService} took effect; it replaces any earlier definition.
    event ServiceDefined(bytes32 indexed service, address indexed admin, string name, ServiceItem[] items);

    /// @dev A signed {SetPurposePolicy} took effect: grants and requests for `purpose` from
    /// this block on cover only `fields` (empty: any) for at most `maxDuration` (0: any).
    event PurposePolicySet(bytes32 indexed purpose, address indexed admin, bytes32[] fields, uint64 maxDuration);
    event FieldDefined(bytes32 indexed field);
    event PurposeDefined(bytes32 indexed purpose);
    event IssuerTrusted(address indexed issuer, bytes32 indexed field, uint64 since);
    event IssuerDistrusted(address indexed issuer, bytes32 indexed field, uint64 until);

    function isActiveDepartment(address department) external view returns (bool);

    function rolesOf(address account) external view returns (uint256 roles);

    function departmentStatus(address department) external view returns (bool registered, bool active);

    function isTrustedIssuer(address issuer, bytes32 field, uint64 at) external view returns (bool);

    function checkScope(bytes32[] calldata fields, bytes32 purpose) external view;

    function scopeError(bytes32[] calldata fields, bytes32 purpose) external view returns (bytes memory);

    function scopeLimit(
        bytes32[] calldata fields,
        bytes32 purpose
    ) external view returns (bytes memory error, uint64 maxDuration);

    function hasRole(bytes32 role, address account) external view returns (bool);
    /**
     * @dev The error a bundle's item `index` for `service` fails with against the service
     * item and its purpose's policy, ABI-encoded (empty if it fits), and the service's
     * item count (0 if the service is unknown).
     */
    function bundleItemError(
        bytes32 service,
        uint256 index,
        address department,
        bytes32[] calldata fields,
        bytes32 purpose,
        uint64 duration,
        uint32 maxUses
    ) external view returns (bytes memory error, uint256 itemCount);

}
