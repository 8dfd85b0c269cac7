"""One router per actor or resource."""
