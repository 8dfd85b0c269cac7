// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @title IConsentLedger
 * @dev Residents, their record commitments, access requests, consents and access records.
 *
 * IMPORTANT: nothing personal goes on chain. A resident is an address, a salted ID
 * commitment and an encryption key; a record is a version and a Merkle root of
 * ciphertext hashes; consents name field ids and purpose codes, never values.
 *
 * To keep a grant to one storage write, a consent's terms live in its
 * {ConsentGranted} event; storage keeps a 192-bit digest of them beside the use count
 * and the revocation flag, and {access} and {revoke} take the terms as calldata and
 * check them against the digest.
 */
interface IConsentLedger {
    /// @dev Signed by a registrar.
    struct EnrollResident {
        address resident;
        bytes32 idCommitment;
        bytes encryptionKey;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by the resident.
    struct CommitRecord {
        address resident;
        uint64 version;
        bytes32 root;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by the department. Its request id is the intent's EIP-712 digest.
    struct AccessRequest {
        address department;
        address resident;
        bytes32[] fields;
        bytes32 purpose;
        uint64 duration;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by the resident. `fields` strictly ascending; `maxUses` 0 = unlimited;
    /// valid while `validFrom <= block.timestamp < validUntil`; `requestId` 0 or a request
    /// of this department to this resident.
    struct Grant {
        address resident;
        address department;
        bytes32[] fields;
        bytes32 purpose;
        uint64 validFrom;
        uint64 validUntil;
        uint32 maxUses;
        bytes32 requestId;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev What grants of a {grantScopedBatch} share: a {Grant}'s department, fields and
    /// purpose, given once for every grant that names it. Not signed as such: each grant's
    /// signature is over its whole {Grant}.
    struct GrantScope {
        address department;
        bytes32[] fields;
        bytes32 purpose;
    }

    /// @dev A {Grant} in a {grantScopedBatch}: its own members, `scope` the index of its
    /// department, fields and purpose in the batch's scopes, and the resident's signature
    /// in EIP-2098's compact form (`r`, and `s` with `v - 27` in the top bit of `vs`).
    struct ScopedGrant {
        address resident;
        uint256 scope;
        uint64 validFrom;
        uint64 validUntil;
        uint32 maxUses;
        bytes32 requestId;
        uint256 nonce;
        uint256 deadline;
        bytes32 r;
        bytes32 vs;
    }

    /// @dev Signed by the resident.
    struct Revoke {
        address resident;
        uint256 consentId;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by the department: read `fields` (strictly ascending) under `consentId`.
    struct Access {
        address department;
        address resident;
        uint256 consentId;
        bytes32[] fields;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by the resident a request was filed to: decline it with a reason code.
    struct DeclineRequest {
        address resident;
        bytes32 requestId;
        bytes32 reason;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by the department that filed the request: withdraw it.
    struct WithdrawRequest {
        address department;
        bytes32 requestId;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev One consent of a bundle, no wider than its service item: the resident may narrow
    /// the fields, the window (from the bundle's `validFrom`) and the uses.
    struct BundleItem {
        address department;
        bytes32[] fields;
        bytes32 purpose;
        uint64 validUntil;
        uint32 maxUses;
    }

    /// @dev Signed by the resident: grant every item of `service` in one act, all or none.
    struct GrantBundle {
        address resident;
        bytes32 service;
        BundleItem[] items;
        uint64 validFrom;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Signed by the resident: revoke every consent of a bundle still in force.
    struct RevokeBundle {
        address resident;
        uint256 bundleId;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev A granted bundle, in one storage word. Its id is the id of its first consent:
    /// its consents are `bundleId` to `bundleId + count - 1`.
    struct Bundle {
        address resident;
        uint16 count;
        bool revoked;
    }

    /// @dev The terms of a granted consent, as its {ConsentGranted} event carries them.
    struct ConsentTerms {
        address resident;
        address department;
        bytes32[] fields;
        bytes32 purpose;
        uint64 validFrom;
        uint64 validUntil;
        uint32 maxUses;
    }

    struct Resident {
        bytes32 idCommitment;
        bytes32 root;
        uint64 version;
    }

    /// @dev Who filed a request and when (block time), in one storage word.
    struct RequestFiling {
        address department;
        uint64 filedAt;
    }

    struct ConsentState {
        bytes24 termsHash;
        uint32 uses;
        bool revoked;
    }

    error ConsentLedgerUnauthorizedSigner(address signer, bytes32 role);
    error ConsentLedgerZeroAddress();
    error ConsentLedgerResidentExists(address resident);
    error ConsentLedgerIdCommitmentUsed(bytes32 idCommitment);
    error ConsentLedgerInvalidIdCommitment();
    error ConsentLedgerInvalidEncryptionKey();
    error ConsentLedgerUnknownResident(address resident);
    error ConsentLedgerStaleVersion(address resident, uint64 current, uint64 given);
    error ConsentLedgerInvalidRoot();
    error ConsentLedgerInactiveDepartment(address department);
    error ConsentLedgerUnknownDepartment(address department);
    error ConsentLedgerZeroDuration();
    error ConsentLedgerInvalidWindow(uint64 validFrom, uint64 validUntil);
    error ConsentLedgerUnknownRequest(bytes32 requestId);
    error ConsentLedgerUnknownConsent(uint256 consentId);
    error ConsentLedgerTermsMismatch(uint256 consentId);
    error ConsentLedgerNotConsentResident(uint256 consentId, address resident);
    error ConsentLedgerAlreadyRevoked(uint256 consentId);
    /// @dev The request was already answered: `status` 1 granted, 2 declined, 3 withdrawn.
    error ConsentLedgerRequestAnswered(bytes32 requestId, uint8 status);
    /// @dev The request went unanswered until `expiredAt` ({REQUEST_ANSWER_WINDOW} after
    /// it was filed): no grant can name it any more.
    error ConsentLedgerRequestExpired(bytes32 requestId, uint64 expiredAt);
    /// @dev A department other than the one that filed the request tried to withdraw it.
    error ConsentLedgerNotRequestDepartment(bytes32 requestId, address department);
    /// @dev A decline's reason is not one of the reason codes (see {declineReasons}).
    error ConsentLedgerUnknownReason(bytes32 reason);
    /// @dev A grant's window or a request's duration exceeds its purpose's policy.
    error ConsentLedgerPolicyDurationTooLong(bytes32 purpose, uint64 duration, uint64 maxDuration);
    error ConsentLedgerEmptyFields();
    error ConsentLedgerUnsortedFields(uint256 index);
    /// @dev Every consent id is taken (only reachable by tampering with state): refused,
    /// not an overflow that would take the grant's batch down.
    error ConsentLedgerConsentIdsExhausted();
    error ConsentLedgerUnknownBundle(uint256 bundleId);
    error ConsentLedgerNotBundleResident(uint256 bundleId, address resident);
    error ConsentLedgerBundleRevoked(uint256 bundleId);
    /// @dev `terms` carries `given` consents' terms; the bundle has `expected` consents.
    error ConsentLedgerBundleTermsCount(uint256 bundleId, uint256 expected, uint256 given);
    /// @dev Bundle item `index` was refused; `reason` is the ABI-encoded error it failed with.
    error ConsentLedgerBundleItemRefused(uint256 index, bytes reason);

    event ResidentEnrolled(
        address indexed resident,
        address indexed registrar,
        bytes32 idCommitment,
        bytes encryptionKey
    );
    /// @dev A delegate signed the next intent in `resident`'s name (`intentType` its type
    /// hash); that intent's events follow in the same transaction.
    event DelegateSigned(address indexed resident, address indexed delegate, bytes32 indexed intentType);
    event RecordCommitted(address indexed resident, uint64 version, bytes32 root);
    event AccessRequested(
        bytes32 indexed requestId,
        address indexed department,
        address indexed resident,
        bytes32[] fields,
        bytes32 purpose,
        uint64 duration
    );
    event ConsentGranted(
        uint256 indexed consentId,
        address indexed resident,
        address indexed department,
        bytes32[] fields,
        bytes32 purpose,
        uint64 validFrom,
        uint64 validUntil,
        uint32 maxUses,
        bytes32 requestId
    );
    /// @dev The resident declined the request; `reason` is a reason code as right-padded ASCII.
    event RequestDeclined(
        bytes32 indexed requestId,
        address indexed resident,
        address indexed department,
        bytes32 reason
    );
    /// @dev The department withdrew its request.
    event RequestWithdrawn(bytes32 indexed requestId, address indexed department);
    /// @dev A signed {GrantBundle} took effect: the {ConsentGranted} events of its `count`
    /// consents, from `firstConsentId` on, come just before it.
    event BundleGranted(
        uint256 indexed bundleId,
        address indexed resident,
        bytes32 indexed service,
        uint256 firstConsentId,
        uint16 count
    );
    /// @dev A signed {RevokeBundle} took effect: a {ConsentRevoked} event for each of its
    /// consents that was still in force comes just before it.
    event BundleRevoked(uint256 indexed bundleId, address indexed resident);
    event ConsentRevoked(uint256 indexed consentId, address indexed resident, address indexed department);
    /// @dev `use` counts this consent's served accesses, starting at 1.
    event AccessLogged(
        uint256 indexed consentId,
        address indexed resident,
        address indexed department,
        bytes32[] fields,
        bytes32 purpose,
        uint32 use
    );
    /// @dev `reason` is one of `unknown_consent`, `not_granted`, `revoked`, `not_yet_valid`,
    /// `expired`, `uses_exhausted`, `field_not_in_scope` as right-padded ASCII.
    event AccessDenied(
        uint256 indexed consentId,
        address indexed resident,
        address indexed department,
        bytes32[] fields,
        bytes32 reason
    );
}
