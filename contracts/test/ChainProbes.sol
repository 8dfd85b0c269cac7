// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev Test fixture for the chain layer: records the block timestamp a call executes at.
contract ClockProbe {
    uint256 public lastSeen;

    event Ticked(uint256 indexed timestamp);

    fallback() external {
        lastSeen = block.timestamp;
        emit Ticked(block.timestamp);
    }
}

/// @dev Test fixture for the chain layer: every call reverts.
contract RevertProbe {
    error RevertProbeAlwaysReverts();

    fallback() external {
        revert RevertProbeAlwaysReverts();
    }
}
