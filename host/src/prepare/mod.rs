//! Preparation: the Queue actor (what runs next), the Pool actor (which workers exist) and the
//! per-worker actor (one job's state machine).

pub mod pool;
pub mod queue;
pub mod worker;
