//! # cuvee-broker
//!
//! Will answer: *where does this query go, and how are the parts merged?* — routing,
//! segment pruning, scatter-gather to servers, final merge, and the front doors (Pinot HTTP
//! API, Postgres wire, Arrow Flight SQL). Empty until the SQL and cluster issues.
