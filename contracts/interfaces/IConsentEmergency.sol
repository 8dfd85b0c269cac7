// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @title IConsentEmergency
 * @dev Break the glass, with enforced follow-up. A resident (or a delegate with the grant
 * power) leaves a directive: fields whose keys are wrapped for one department holding the
 * emergency role. That department reads them only through an emergency access stating a
 * reason code and a justification hash; each is judged here, logged, limited per resident
 * per day, and must be reviewed by an auditor before its deadline.
 */
interface IConsentEmergency {
    /// @dev Signed by the resident or a delegate with the grant power. Empty `fields`
    /// withdraws the directive.
    struct EmergencyDirective {
        address resident;
        address department;
        bytes32[] fields;
        uint64 validUntil;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by the emergency department.
    struct EmergencyAccess {
        address department;
        address resident;
        bytes32[] fields;
        bytes32 reason;
        bytes32 justificationHash;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by an auditor; `outcome` is `justified` or `unjustified`.
    struct ReviewEmergency {
        uint256 accessId;
        bytes32 outcome;
        bytes32 notesHash;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev A resident's directive (its fields are kept beside it).
    struct Directive {
        address department;
        uint64 validUntil;
        address signer;
    }

    /// @dev One emergency access and its review (`outcome` zero until reviewed).
    struct EmergencyRecord {
        address department;
        uint64 accessedAt;
        uint64 reviewDue;
        address resident;
        uint64 reviewedAt;
        bytes32 outcome;
        address reviewer;
    }

    error ConsentEmergencyZeroAddress();
    error ConsentEmergencyUnknownResident(address resident);
    error ConsentEmergencyNotEmergencyDepartment(address department);
    error ConsentEmergencyInactiveDepartment(address department);
    error ConsentEmergencyFieldNotAllowed(address department, bytes32 field);
    error ConsentEmergencyInvalidValidity(uint64 validUntil, uint256 timestamp);
    error ConsentEmergencyMissingJustification();
    error ConsentEmergencyUnauthorizedSigner(address signer, bytes32 role);
    error ConsentEmergencyUnknownAccess(uint256 accessId);
    error ConsentEmergencyAlreadyReviewed(uint256 accessId);
    error ConsentEmergencyInvalidOutcome(bytes32 outcome);

    event EmergencyDirectiveSet(
        address indexed resident,
        address indexed department,
        address indexed signer,
        bytes32[] fields,
        uint64 validUntil
    );
    event EmergencyDirectiveWithdrawn(address indexed resident, address indexed signer);
    event EmergencyAccessed(
        uint256 indexed accessId,
        address indexed resident,
        address indexed department,
        bytes32[] fields,
        bytes32 reason,
        bytes32 justificationHash,
        uint64 reviewDue
    );
    /// @dev An emergency access refused: `refusal` says why (`no_emergency_role`,
    /// `no_directive`, `directive_expired`, `field_not_in_directive`, `daily_limit`).
    event EmergencyDenied(
        address indexed resident,
        address indexed department,
        bytes32[] fields,
        bytes32 reason,
        bytes32 refusal
    );
    event EmergencyReviewed(
        uint256 indexed accessId,
        address indexed auditor,
        bytes32 outcome,
        bytes32 notesHash,
        bool late
    );
}
