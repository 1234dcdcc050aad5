//! Execution (in progress): the execute queue's lane policy. The queue actor, per-worker
//! execute actors and `ValidationHost::execute_pvf` build on it.

pub mod lanes;
