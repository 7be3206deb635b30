"""Pure domain types: identities, states and the error tree. No I/O, no frameworks."""
