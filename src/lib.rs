pub use sentinel_runtime::*;
