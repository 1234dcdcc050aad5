//! Execution: the lane policy, the execute queue actor that owns the execute workers, and the
//! exchange (one execution's state machine on one worker, and whether the worker survives it).

pub mod exchange;
pub mod lanes;
pub mod queue;
