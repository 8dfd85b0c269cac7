// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IConsentDelegates} from "./interfaces/IConsentDelegates.sol";
import {IConsentDirectory} from "./interfaces/IConsentDirectory.sol";
import {SignedIntents} from "./SignedIntents.sol";

interface IEnrolment {
    function isEnrolled(address account) external view returns (bool);
}

/**
 * @title ConsentDelegates
 * @dev Delegates (a family member a resident appoints) and guardians (appointed by a
 * registrar for a minor or a person who cannot act). An appointment names powers and an
 * end; the contracts that judge a resident's intents accept a delegate's signature for
 * exactly the powers it names, while it lasts ({delegationError}). A delegate cannot
 * appoint others: appointing is the resident's or a registrar's act alone.
 *
 * Nonces are each signer's own: a delegate signing for a resident spends its own nonce.
 */
contract ConsentDelegates is IConsentDelegates, SignedIntents {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    bytes32 public constant RELAYER_ROLE = keccak256("RELAYER_ROLE");

    uint8 public constant POWER_GRANT = 1;
    uint8 public constant POWER_REVOKE = 2;
    uint8 public constant POWER_COMMIT = 4;
    uint8 public constant POWER_READ = 8;
    uint8 private constant ALL_POWERS = 15;

    bytes32 public constant APPOINT_DELEGATE_TYPEHASH =
        keccak256(
            "AppointDelegate(address resident,address delegate,uint8 powers,uint64 validUntil,uint256 nonce,uint256 deadline)"
        );
    bytes32 public constant REMOVE_DELEGATE_TYPEHASH =
        keccak256("RemoveDelegate(address resident,address delegate,uint256 nonce,uint256 deadline)");

    IConsentDirectory private immutable _directory;
    IEnrolment private immutable _ledger;

    mapping(address resident => mapping(address delegate => Delegation)) private _delegations;
    /// @dev Everyone ever appointed for a resident, in first-appointment order.
    mapping(address resident => address[] delegates) private _delegateList;

    constructor(IConsentDirectory directory_, address ledger_) {
        if (address(directory_) == address(0) || ledger_ == address(0)) revert ConsentDelegatesZeroAddress();
        _directory = directory_;
        _ledger = IEnrolment(ledger_);
    }

    /**
     * @notice Appoints (or re-appoints with new terms) `delegate` for `resident`.
     *
     * Requirements:
     * - the caller is a relayer; signed by `resident` or a registrar; deadline and nonce hold;
     * - both are enrolled residents and differ; `powers` is a non-empty subset of the four
     *   powers; `validUntil` lies after this block;
     * - a guardian a registrar appointed is re-appointed only by a registrar.
     *
     * Emits a {DelegateAppointed} event (`guardian`: a registrar signed).
     */
    function appointDelegate(AppointDelegate calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(
                APPOINT_DELEGATE_TYPEHASH,
                intent.resident,
                intent.delegate,
                intent.powers,
                intent.validUntil,
                intent.nonce,
                intent.deadline
            )
        );
        address signer = _verifyAnySigner(structHash, signature, intent.nonce, intent.deadline);
        bool guardian = _authority(intent.resident, signer);
        if (!_ledger.isEnrolled(intent.resident)) revert ConsentDelegatesUnknownResident(intent.resident);
        if (!_ledger.isEnrolled(intent.delegate)) revert ConsentDelegatesUnknownResident(intent.delegate);
        if (intent.delegate == intent.resident) revert ConsentDelegatesSelfDelegation(intent.resident);
        if (intent.powers == 0 || intent.powers > ALL_POWERS) revert ConsentDelegatesInvalidPowers(intent.powers);
        if (intent.validUntil <= block.timestamp) {
            revert ConsentDelegatesInvalidValidity(intent.validUntil, block.timestamp);
        }
        Delegation storage entry = _delegations[intent.resident][intent.delegate];
        if (entry.guardian && !entry.removed && !guardian) {
            revert ConsentDelegatesGuardianship(intent.resident, intent.delegate);
        }
        if (entry.appointedBy == address(0)) _delegateList[intent.resident].push(intent.delegate);
        _delegations[intent.resident][intent.delegate] = Delegation({
            powers: intent.powers,
            validUntil: intent.validUntil,
            guardian: guardian,
            removed: false,
            appointedBy: signer
        });
        emit DelegateAppointed(intent.resident, intent.delegate, signer, intent.powers, intent.validUntil, guardian);
    }

    /**
     * @notice Ends `delegate`'s appointment for `resident` from this block on.
     *
     * Requirements:
     * - the caller is a relayer; signed by `resident` or a registrar; deadline and nonce hold;
     * - `delegate` holds an appointment that was not removed (an expired one may be);
     * - a guardian a registrar appointed is removed only by a registrar.
     *
     * Emits a {DelegateRemoved} event.
     */
    function removeDelegate(RemoveDelegate calldata intent, bytes calldata signature) external onlyRelayer {
        bytes32 structHash = keccak256(
            abi.encode(REMOVE_DELEGATE_TYPEHASH, intent.resident, intent.delegate, intent.nonce, intent.deadline)
        );
        address signer = _verifyAnySigner(structHash, signature, intent.nonce, intent.deadline);
        bool registrar = _authority(intent.resident, signer);
        Delegation storage entry = _delegations[intent.resident][intent.delegate];
        if (entry.appointedBy == address(0) || entry.removed) {
            revert ConsentDelegatesNotDelegate(intent.resident, intent.delegate);
        }
        if (entry.guardian && !registrar) revert ConsentDelegatesGuardianship(intent.resident, intent.delegate);
        entry.removed = true;
        emit DelegateRemoved(intent.resident, intent.delegate, signer);
    }

    /// @notice Submits many {appointDelegate} intents; each bad one is refused on its own.
    function appointDelegateBatch(AppointDelegate[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(APPOINT_DELEGATE_TYPEHASH, i, abi.encodeCall(this.appointDelegate, (intents[i], signatures[i])));
        }
    }

    /// @notice Submits many {removeDelegate} intents; each bad one is refused on its own.
    function removeDelegateBatch(RemoveDelegate[] calldata intents, bytes[] calldata signatures) external onlyRelayer {
        _checkBatch(intents.length, signatures.length);
        for (uint256 i = 0; i < intents.length; ++i) {
            _tryIntent(REMOVE_DELEGATE_TYPEHASH, i, abi.encodeCall(this.removeDelegate, (intents[i], signatures[i])));
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IConsentDelegates
    function delegationError(address resident, address signer, uint8 power) public view returns (bytes memory) {
        Delegation memory entry = _delegations[resident][signer];
        if (entry.appointedBy == address(0)) {
            return abi.encodeWithSelector(SignedIntentWrongSigner.selector, resident, signer);
        }
        if (entry.removed) return abi.encodeWithSelector(ConsentDelegatesRemoved.selector, resident, signer);
        if (block.timestamp > entry.validUntil) {
            return abi.encodeWithSelector(ConsentDelegatesExpired.selector, resident, signer, entry.validUntil);
        }
        if (entry.powers & power != power) {
            return abi.encodeWithSelector(ConsentDelegatesMissingPower.selector, resident, signer, entry.powers, power);
        }
        return "";
    }

    /// @notice Whether `signer` may sign `resident`'s intents that need `power`, now.
    function actsFor(address resident, address signer, uint8 power) external view returns (bool) {
        return delegationError(resident, signer, power).length == 0;
    }

    /// @notice `delegate`'s appointment for `resident` (all zero if never appointed).
    function delegation(address resident, address delegate) external view returns (Delegation memory) {
        return _delegations[resident][delegate];
    }

    /// @notice Everyone ever appointed for `resident`, current or not, in appointment order.
    function delegates(address resident) external view returns (address[] memory) {
        return _delegateList[resident];
    }

    function directory() external view returns (IConsentDirectory) {
        return _directory;
    }

    // ---------------------------------------------------------------- internals

    function _isRelayer(address account) internal view override returns (bool) {
        return _directory.hasRole(RELAYER_ROLE, account);
    }

    /// @dev Whether a registrar (not the resident) signed; reverts if neither did.
    function _authority(address resident, address signer) private view returns (bool registrar) {
        if (signer == resident) return false;
        if (!_directory.hasRole(REGISTRAR_ROLE, signer)) revert ConsentDelegatesUnauthorizedSigner(signer, resident);
        return true;
    }
}
