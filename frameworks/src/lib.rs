//! Examples of `montanalabs-sentinel` with agent frameworks live in `examples/` (a member of
//! its own so rmcp and rig-core are never built for the facade's examples). Nothing here is
//! published.
