//! The worker binary the integration tests spawn: the production worker entry point, with the
//! tracking allocator installed. Test-only job kinds will live behind a cargo feature here, so
//! that release binaries never contain them.

#[global_allocator]
static ALLOCATOR: pvf_worker::memory::TrackingAllocator = pvf_worker::memory::TrackingAllocator;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    pvf_worker::entrypoint::run(&args)
}
