//! The embedguard gateway and local upstream, as a library for their two binaries
//! (`embedguard-gateway`, `embedguard-upstream`) and their tests.

pub mod answers;
pub mod budgets;
pub mod ledger;
pub mod local;
pub mod logging;
pub mod proxy;
pub mod serve;
