// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IConsentDelegates} from "./interfaces/IConsentDelegates.sol";
import {IConsentDirectory} from "./interfaces/IConsentDirectory.sol";
import {IConsentEmergency} from "./interfaces/IConsentEmergency.sol";
import {SignedIntents} from "./SignedIntents.sol";

interface IEmergencyRoles {
    function emergencyFields(address account) external view returns (bytes32[] memory);
}

interface IResidents {
    function isEnrolled(address account) external view returns (bool);
}

/**
 * @title ConsentEmergency
 * @dev Emergency directives, emergency accesses and their reviews. An emergency access by
 * an active department always ends in an {EmergencyAccessed} or an {EmergencyDenied}
 * event: a refusal is recorded, not silent. Each access gets a review deadline
 * ({REVIEW_PERIOD} after it); a review after the deadline is recorded as `late`.
 */
contract ConsentEmergency is IConsentEmergency, SignedIntents {
    bytes32 public constant EMERGENCY_ROLE = keccak256("EMERGENCY_ROLE");
    bytes32 public constant AUDITOR_ROLE = keccak256("AUDITOR_ROLE");
    bytes32 public constant RELAYER_ROLE = keccak256("RELAYER_ROLE");

    /// @notice Emergency accesses served per resident per UTC day (of block time).
    uint256 public constant DAILY_LIMIT = 3;
    /// @notice How long an auditor has to review an emergency access.
    uint64 public constant REVIEW_PERIOD = 3 days;
    /// @dev The delegate power a directive needs (the grant power: it shares data).
    uint8 private constant POWER_GRANT = 1;
    bytes32 private constant EMERGENCY_PURPOSE = "EMERGENCY";
    bytes32 private constant JUSTIFIED = "justified";
    bytes32 private constant UNJUSTIFIED = "unjustified";

    bytes32 public constant EMERGENCY_DIRECTIVE_TYPEHASH =
        keccak256(
            "EmergencyDirective(address resident,address department,bytes32[] fields,uint64 validUntil,uint256 nonce,uint256 deadline)"
        );
    bytes32 public constant EMERGENCY_ACCESS_TYPEHASH =
        keccak256(
            "EmergencyAccess(address department,address resident,bytes32[] fields,bytes32 reason,bytes32 justificationHash,uint256 nonce,uint256 deadline)"
        );
    bytes32 public constant REVIEW_EMERGENCY_TYPEHASH =
        keccak256("ReviewEmergency(uint256 accessId,bytes32 outcome,bytes32 notesHash,uint256 nonce,uint256 deadline)");

    IConsentDirectory private immutable _directory;
    IResidents private immutable _ledger;
    IConsentDelegates private immutable _delegates;

    mapping(address resident => Directive) private _directives;
    mapping(address resident => bytes32[] fields) private _directiveFields;
    mapping(address resident => mapping(uint256 day => uint256 served)) private _served;
    mapping(uint256 accessId => EmergencyRecord) private _accesses;
    uint256 private _accessCount;

    constructor(IConsentDirectory directory_, address ledger_, IConsentDelegates delegates_) {
        if (address(directory_) == address(0) || ledger_ == address(0) || address(delegates_) == address(0)) {
            revert ConsentEmergencyZeroAddress();
        }
        _directory = directory_;
        _ledger = IResidents(ledger_);
        _delegates = delegates_;
    }

    /**
     * @notice Leaves, replaces or (with no fields) withdraws `resident`'s directive.
     *
     * Requirements:
     * - the caller is a relayer; signed by `resident` or a delegate with the grant power;
     *   deadline and nonce hold; `resident` is enrolled;
     * - unless withdrawing: `department` holds the emergency role and is active; `fields`
     *   is a strictly ascending list of defined fields, each one the role names, within the
     *   `EMERGENCY` purpose's policy; `validUntil` lies after this block.
     *
     * Emits an {EmergencyDirectiveSet} or {EmergencyDirectiveWithdrawn} event.
     */
    function setDirective(EmergencyDirective calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(
                EMERGENCY_DIRECTIVE_TYPEHASH,
                intent.resident,
                intent.department,
                _hashArray(intent.fields),
                intent.validUntil,
                intent.nonce,
                intent.deadline
            )
        );
        address signer = _verifyAnySigner(structHash, signature, intent.nonce, intent.deadline);
        if (signer != intent.resident) {
            bytes memory error = _delegates.delegationError(intent.resident, signer, POWER_GRANT);
            if (error.length != 0) _raise(error);
        }
        if (!_ledger.isEnrolled(intent.resident)) revert ConsentEmergencyUnknownResident(intent.resident);
        if (intent.fields.length == 0) {
            delete _directives[intent.resident];
            delete _directiveFields[intent.resident];
            emit EmergencyDirectiveWithdrawn(intent.resident, signer);
            return;
        }
        if (!_directory.hasRole(EMERGENCY_ROLE, intent.department)) {
            revert ConsentEmergencyNotEmergencyDepartment(intent.department);
        }
        if (!_directory.isActiveDepartment(intent.department)) {
            revert ConsentEmergencyInactiveDepartment(intent.department);
        }
        _directory.checkScope(intent.fields, EMERGENCY_PURPOSE);
        bytes32[] memory allowed = IEmergencyRoles(address(_directory)).emergencyFields(intent.department);
        for (uint256 i = 0; i < intent.fields.length; ++i) {
            if (!_contains(allowed, intent.fields[i])) {
                revert ConsentEmergencyFieldNotAllowed(intent.department, intent.fields[i]);
            }
        }
        if (intent.validUntil <= block.timestamp) {
            revert ConsentEmergencyInvalidValidity(intent.validUntil, block.timestamp);
        }
        _directives[intent.resident] = Directive(intent.department, intent.validUntil, signer);
        _directiveFields[intent.resident] = intent.fields;
        emit EmergencyDirectiveSet(intent.resident, intent.department, signer, intent.fields, intent.validUntil);
    }

    /**
     * @notice Records an emergency read of `fields` of `resident`'s directive, or its refusal.
     *
     * Requirements (else it reverts, recording nothing):
     * - the caller is a relayer; signed by `department`; deadline and nonce hold;
     * - `department` is an active department; `resident` is enrolled; `fields` is a
     *   strictly ascending list of defined fields; `reason` and `justificationHash` are
     *   non-zero.
     *
     * Then it is judged: refused (`no_emergency_role`, `no_directive` for none or another
     * department's, `directive_expired`, `field_not_in_directive` for a field outside the
     * directive or the role, `daily_limit` past {DAILY_LIMIT} served today) or served.
     *
     * Emits an {EmergencyAccessed} event (with its id and review deadline) or an
     * {EmergencyDenied} event. Returns the access id (0 if refused).
     */
    function emergencyAccess(
        EmergencyAccess calldata intent,
        bytes calldata signature
    ) external onlyRelayer returns (uint256 accessId) {
        bytes32 structHash = keccak256(
            abi.encode(
                EMERGENCY_ACCESS_TYPEHASH,
                intent.department,
                intent.resident,
                _hashArray(intent.fields),
                intent.reason,
                intent.justificationHash,
                intent.nonce,
                intent.deadline
            )
        );
        _verify(intent.department, structHash, signature, intent.nonce, intent.deadline);
        if (!_directory.isActiveDepartment(intent.department)) {
            revert ConsentEmergencyInactiveDepartment(intent.department);
        }
        if (!_ledger.isEnrolled(intent.resident)) revert ConsentEmergencyUnknownResident(intent.resident);
        _directory.checkScope(intent.fields, EMERGENCY_PURPOSE);
        if (intent.reason == bytes32(0) || intent.justificationHash == bytes32(0)) {
            revert ConsentEmergencyMissingJustification();
        }
        bytes32 refusal = _refusal(intent);
        if (refusal != bytes32(0)) {
            emit EmergencyDenied(intent.resident, intent.department, intent.fields, intent.reason, refusal);
            return 0;
        }
        ++_served[intent.resident][block.timestamp / 1 days];
        accessId = ++_accessCount;
        uint64 reviewDue = uint64(block.timestamp) + REVIEW_PERIOD;
        _accesses[accessId] = EmergencyRecord({
            department: intent.department,
            accessedAt: uint64(block.timestamp),
            reviewDue: reviewDue,
            resident: intent.resident,
            reviewedAt: 0,
            outcome: bytes32(0),
            reviewer: address(0)
        });
        emit EmergencyAccessed(
            accessId,
            intent.resident,
            intent.department,
            intent.fields,
            intent.reason,
            intent.justificationHash,
            reviewDue
        );
    }

    /**
     * @notice An auditor's review of emergency access `accessId`.
     *
     * Requirements:
     * - the caller is a relayer; signed by an auditor; deadline and nonce hold;
     * - the access exists and has not been reviewed; `outcome` is `justified` or `unjustified`.
     *
     * Emits an {EmergencyReviewed} event, `late` if after the access's review deadline.
     */
    function review(ReviewEmergency calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(
                REVIEW_EMERGENCY_TYPEHASH,
                intent.accessId,
                intent.outcome,
                intent.notesHash,
                intent.nonce,
                intent.deadline
            )
        );
        address auditor = _verifyAnySigner(structHash, signature, intent.nonce, intent.deadline);
        if (!_directory.hasRole(AUDITOR_ROLE, auditor)) revert ConsentEmergencyUnauthorizedSigner(auditor, AUDITOR_ROLE);
        EmergencyRecord storage record = _accesses[intent.accessId];
        if (record.department == address(0)) revert ConsentEmergencyUnknownAccess(intent.accessId);
        if (record.outcome != bytes32(0)) revert ConsentEmergencyAlreadyReviewed(intent.accessId);
        if (intent.outcome != JUSTIFIED && intent.outcome != UNJUSTIFIED) {
            revert ConsentEmergencyInvalidOutcome(intent.outcome);
        }
        record.outcome = intent.outcome;
        record.reviewer = auditor;
        record.reviewedAt = uint64(block.timestamp);
        emit EmergencyReviewed(intent.accessId, auditor, intent.outcome, intent.notesHash, block.timestamp > record.reviewDue);
    }

    /// @notice Submits many {setDirective} intents; each bad one is refused on its own.
    function setDirectiveBatch(EmergencyDirective[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(EMERGENCY_DIRECTIVE_TYPEHASH, i, abi.encodeCall(this.setDirective, (intents[i], signatures[i])));
        }
    }

    /// @notice Submits many {emergencyAccess} intents; each bad one is refused on its own.
    function emergencyAccessBatch(EmergencyAccess[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(EMERGENCY_ACCESS_TYPEHASH, i, abi.encodeCall(this.emergencyAccess, (intents[i], signatures[i])));
        }
    }

    /// @notice Submits many {review} intents; each bad one is refused on its own.
    function reviewBatch(ReviewEmergency[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(REVIEW_EMERGENCY_TYPEHASH, i, abi.encodeCall(this.review, (intents[i], signatures[i])));
        }
    }

    // ---------------------------------------------------------------- views

    /// @notice `resident`'s directive and its fields (department zero: none).
    function directive(address resident) external view returns (Directive memory, bytes32[] memory fields) {
        return (_directives[resident], _directiveFields[resident]);
    }

    function emergencyRecord(uint256 accessId) external view returns (EmergencyRecord memory) {
        return _accesses[accessId];
    }

    function accessCount() external view returns (uint256) {
        return _accessCount;
    }

    /// @notice Emergency accesses served for `resident` in the UTC day of block time `at`.
    function servedOn(address resident, uint256 at) external view returns (uint256) {
        return _served[resident][at / 1 days];
    }

    function directory() external view returns (IConsentDirectory) {
        return _directory;
    }

    // ---------------------------------------------------------------- internals

    function _isRelayer(address account) internal view override returns (bool) {
        return _directory.hasRole(RELAYER_ROLE, account);
    }

    function _refusal(EmergencyAccess calldata intent) private view returns (bytes32) {
        if (!_directory.hasRole(EMERGENCY_ROLE, intent.department)) return "no_emergency_role";
        Directive storage entry = _directives[intent.resident];
        if (entry.department != intent.department) return "no_directive";
        if (block.timestamp > entry.validUntil) return "directive_expired";
        bytes32[] memory allowed = IEmergencyRoles(address(_directory)).emergencyFields(intent.department);
        bytes32[] storage listed = _directiveFields[intent.resident];
        for (uint256 i = 0; i < intent.fields.length; ++i) {
            if (!_contains(allowed, intent.fields[i]) || !_listed(listed, intent.fields[i])) {
                return "field_not_in_directive";
            }
        }
        if (_served[intent.resident][block.timestamp / 1 days] >= DAILY_LIMIT) return "daily_limit";
        return bytes32(0);
    }

    function _contains(bytes32[] memory values, bytes32 value) private pure returns (bool) {
        for (uint256 i = 0; i < values.length; ++i) if (values[i] == value) return true;
        return false;
    }

    function _listed(bytes32[] storage values, bytes32 value) private view returns (bool) {
        for (uint256 i = 0; i < values.length; ++i) if (values[i] == value) return true;
        return false;
    }
}
