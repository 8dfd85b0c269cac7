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

    /// @dev Signed by an issuer, kept off chain: `commitment` is
    /// `keccak256(abi.encode(field, value, salt))` of a value the issuer vouches for.
    struct Attest {
        address issuer;
        address resident;
        bytes32 field;
        bytes32 commitment;
        uint64 issuedAt;
        uint64 expiresAt;
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

    function hasRole(bytes32 role, address account) external view returns (bool);
}
