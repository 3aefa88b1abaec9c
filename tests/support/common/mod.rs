//! Code shared by the examples and the tests: the embedded Graph API fake,
//! the client stack with its batch sender, the stacks the integration tests
//! build over the fake, and webhook deliveries as Meta sends them.
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
pub mod setup;
pub mod tenant_book;
pub mod tenant_db;
pub mod webhooks;
