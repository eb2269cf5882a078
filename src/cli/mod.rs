//! The `cuvee` command's roles and their settings.

pub mod clickstream;
pub mod cluster;
pub mod definitions;
pub mod infer;
pub mod inspect;
pub mod logging;
pub mod options;
pub mod quickstart;
pub mod serve;
