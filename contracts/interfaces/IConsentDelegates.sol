// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @title IConsentDelegates
 * @dev Delegates and guardians: who may sign a resident's intents, with which powers,
 * until when. The ledger and the emergency contract ask {delegationError} when an
 * intent in a resident's name is signed by someone else.
 */
interface IConsentDelegates {
    /// @dev Signed by the resident, or by a registrar (a guardian, for a minor or a person
    /// who cannot act). `powers` is a bit set of {POWER_GRANT}, {POWER_REVOKE},
    /// {POWER_COMMIT} and {POWER_READ}.
    struct AppointDelegate {
        address resident;
        address delegate;
        uint8 powers;
        uint64 validUntil;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by the resident (not for a guardian a registrar appointed), or a registrar.
    struct RemoveDelegate {
        address resident;
        address delegate;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev One appointment, in one storage word. `removed`: ended by {RemoveDelegate}.
    struct Delegation {
        uint8 powers;
        uint64 validUntil;
        bool guardian;
        bool removed;
        address appointedBy;
    }

    error ConsentDelegatesZeroAddress();
    error ConsentDelegatesUnauthorizedSigner(address signer, address resident);
    error ConsentDelegatesUnknownResident(address account);
    error ConsentDelegatesSelfDelegation(address resident);
    error ConsentDelegatesInvalidPowers(uint8 powers);
    error ConsentDelegatesInvalidValidity(uint64 validUntil, uint256 timestamp);
    /// @dev `delegate` was never appointed for `resident`, or the appointment was removed.
    error ConsentDelegatesNotDelegate(address resident, address delegate);
    /// @dev Only a registrar may replace or remove a guardian a registrar appointed.
    error ConsentDelegatesGuardianship(address resident, address delegate);
    /// @dev `delegate`'s appointment for `resident` ended at `validUntil`.
    error ConsentDelegatesExpired(address resident, address delegate, uint64 validUntil);
    /// @dev `delegate`'s appointment for `resident` was removed.
    error ConsentDelegatesRemoved(address resident, address delegate);
    /// @dev `delegate` holds `powers`, which lack `needed`.
    error ConsentDelegatesMissingPower(address resident, address delegate, uint8 powers, uint8 needed);

    event DelegateAppointed(
        address indexed resident,
        address indexed delegate,
        address indexed appointedBy,
        uint8 powers,
        uint64 validUntil,
        bool guardian
    );
    event DelegateRemoved(address indexed resident, address indexed delegate, address indexed removedBy);

    /**
     * @notice The error an intent in `resident`'s name signed by `signer` fails with for
     * lack of a delegation holding `power` at this block, ABI-encoded; empty if it holds.
     * A signer never appointed gets `SignedIntentWrongSigner(resident, signer)`, as if no
     * delegation existed.
     */
    function delegationError(address resident, address signer, uint8 power) external view returns (bytes memory);
}
