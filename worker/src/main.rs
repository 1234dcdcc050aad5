//! `pvf-worker`: a standalone PVF worker binary.

#[global_allocator]
static ALLOCATOR: pvf_worker::memory::TrackingAllocator = pvf_worker::memory::TrackingAllocator;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    pvf_worker::entrypoint::run(&args)
}
