//! The MCP tools an agent calls AWS with, defined once. `tollgate mcp` serves them on stdio
//! over Tollgate's HTTP API; the API serves them at `/mcp` over its own handlers, in process.
//! Both give a [`Backend`]; everything a model reads (names, schemas, descriptions, answers,
//! what to do while a human decides) comes from here.

mod answer;
mod args;
mod backend;
mod call;
mod shape;
pub mod tasks;
mod tools;

pub use answer::{Answer, is_final};
pub use backend::{Backend, Submission};
pub use call::{CallOptions, Outcome, Progress, ToolResult, call};
pub use shape::{parked, plan_steps, progress_line};
pub use tools::{INSTRUCTIONS, POLL_SECONDS, TOOL_NAMES, no_such_tool, tool_name, tools};
