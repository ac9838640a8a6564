//! The benchmarks of `montanalabs-sentinel` live in `benches/` (a member of its own so criterion
//! is never built for the facade's examples); BENCHMARKS.md has the figures. Nothing here is
//! published.
