//! Every integration test, in one binary so that wasmtime and the sp-* crates are linked once.
//! A module per concern. Tests share this process: most run side by side
//! (`pvf_tests::sharing_the_process`); the chaos and soak tests measure the whole process
//! (open descriptors, RSS, zombie children) and take it alone
//! (`pvf_tests::alone_in_the_process`).
//!
//! ```text
//! cargo test -p pvf-tests --test it                       # all of them
//! cargo test -p pvf-tests --test it -- chaos --nocapture  # one module
//! ```

mod cache_lock;
mod candidate_validation;
mod chaos;
mod conformance;
mod corpus;
mod execute;
mod execute_in_process;
mod execute_worker;
mod host_functions_ecc;
mod params_extension;
mod prepare;
mod process_faults;
mod real_candidates;
mod security_attacks;
mod soak;
mod version_mismatch;
mod warm_start;
mod worker_start_failures;
mod worker_threads;
