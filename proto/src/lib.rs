//! # cuvee-proto
//!
//! Will hold the broker↔server protocol: `.proto` files and generated tonic code (plan
//! fragments in, Arrow IPC batches and execution stats out). Knows nothing of SQL or storage.
//! Empty until the cluster issue.
