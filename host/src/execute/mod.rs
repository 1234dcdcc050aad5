//! Execution: the lane policy, the per-job execute state machine, and the execute queue
//! actor that owns the execute workers.

pub mod lanes;
pub mod queue;
pub mod worker;
