//! Names the host and its workers must spell alike: worker subcommands and flags, and the
//! files in a worker dir. Defined once here so neither side can drift from the other.

/// The subcommand that starts a prepare worker. The host passes it when spawning; the
/// worker's entry point parses it.
pub const PREPARE_WORKER_SUBCOMMAND: &str = "prepare-worker";

/// The subcommand that starts an execute worker. The host passes it when spawning; the
/// worker's entry point parses it.
pub const EXECUTE_WORKER_SUBCOMMAND: &str = "execute-worker";

/// Flag naming the host's rendezvous socket, which the worker connects to (then removes).
pub const SOCKET_PATH_FLAG: &str = "--socket-path";

/// Flag naming the worker's private directory, which the host creates and sweeps.
pub const WORKER_DIR_PATH_FLAG: &str = "--worker-dir-path";

/// Optional flag carrying the version the host expects of its workers (its own
/// [`crate::BUILD_VERSION`]), which the worker checks against its own.
pub const NODE_IMPL_VERSION_FLAG: &str = "--node-impl-version";

/// The exit code of a worker whose version is not the one the host passed. Before exiting
/// with it the worker prints its own version, alone, on stdout, so the host can name both.
pub const VERSION_MISMATCH_EXIT_CODE: u8 = 66;

/// The file in a prepare worker's dir that receives the artifact. The host creates it empty
/// before each job (the worker never creates files), the worker fills it, and the host
/// moves it into the cache.
pub const TMP_ARTIFACT_FILE_NAME: &str = "tmp-artifact";

/// The artifact in an execute worker's dir: a hard link the host makes before each job and
/// the worker reads (and caches while its checksum stays the same).
pub const ARTIFACT_FILE_NAME: &str = "artifact";
