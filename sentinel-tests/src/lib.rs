//! The integration tests of `montanalabs-sentinel` live in `tests/` (a member of its own so
//! their dependencies are never built for the facade's examples). Nothing here is published.
