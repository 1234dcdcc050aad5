//! Preparation: the Queue actor (what compiles next), the Pool actor (which prepare workers
//! exist) and the exchange (one job's state machine on one worker, and whether the worker
//! survives it).

pub mod exchange;
pub mod pool;
pub mod queue;
