//! What the integration tests share (each includes it as `mod common`):
//! the embedded Graph API fake (which the examples that need it include
//! alone), the client stacks the tests build over it, webhook deliveries
//! as Meta sends them, the examples run as binaries, captured logs, and a
//! local `redis-server`.
#![allow(dead_code)]

pub mod batch;
pub mod bodies;
pub mod fake_graph;
pub mod fault_stack;
pub mod full_stack;
pub mod logs;
#[cfg(feature = "redis")]
pub mod redis_server;
pub mod run;
pub mod sender;
#[cfg(feature = "tenants")]
pub mod tenant_book;
pub mod tenant_db;
#[cfg(feature = "webhook")]
pub mod webhooks;
