//! The broker's side of distribution: where a query's segments are, how the plan is cut,
//! and how the servers' answers are gathered.
//!
//! - [`server`]: the [`SegmentServer`] trait every server answers through — the in-process
//!   [`LocalServer`] (embedded mode: no gRPC hop, no second code path) and [`RemoteServer`]
//!   over gRPC.
//! - [`distribute`]: a physical optimizer rule, last of all, that cuts each plan where
//!   partial aggregation ends and puts a [`ScatterExec`] there.
//! - [`scatter`]: sends each server the fragment for its segments, streams the answers
//!   back, and keeps the query's account of them ([`QueryScope`]: servers queried and
//!   responded, failures, statistics) under the query's deadline.
//! - [`replicas`]: one view of segments several servers hold (replicas), read once.
//! - [`routing`]: a cluster broker's view of the servers — their tables and segments from
//!   their listings, refreshed in the background.

pub mod distribute;
pub mod remote;
pub mod replicas;
pub mod routing;
pub mod scatter;
pub mod server;

pub use distribute::Distribute;
pub use remote::RemoteServer;
pub use routing::{Cluster, Routing};
pub use scatter::{QueryScope, ScatterExec, ServerFailure};
pub use server::{FragmentAnswer, FragmentRequest, LocalServer, SegmentServer};
