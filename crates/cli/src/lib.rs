//! A small client for Tollgate's HTTP API, shared by the `tollgate` command, the local
//! stack's demo and the end-to-end tests; and the command's configuration.

pub mod client;
pub mod config;
pub mod replay;
pub mod terminal;
