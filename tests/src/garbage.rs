//! The protocol of the garbage-answering test worker: a compromised worker, seen from the host.
//!
//! A host started with `prepare_worker_args_prefix = ["garbage"]` runs the test worker in
//! garbage mode. The worker handshakes correctly, then for each request:
//! - prepare: code that starts with [`GARBAGE_MAGIC`] gets the misbehaviour named by the next
//!   byte; other code is compiled in process (no sandbox) and answered properly, so that
//!   executions can reach an execute worker;
//! - execute: block data that starts with [`GARBAGE_MAGIC`] gets the misbehaviour named by the
//!   next byte; any other request gets [`Garbage::RandomBytes`].

/// Prefix of code or block data that asks for a misbehaviour.
pub const GARBAGE_MAGIC: &[u8] = b"pvf-tests-garbage\0";

/// How a garbage worker answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Garbage {
    /// A few random bytes, then silence.
    RandomBytes,
    /// A length prefix far over the host's limit.
    OversizedPrefix,
    /// A frame whose payload stops short, then the worker exits.
    TruncatedFrame,
    /// A well-formed frame of another message type.
    WrongType,
    /// No answer at all: the worker stays connected and silent.
    Hang,
}

impl Garbage {
    /// Every misbehaviour.
    pub const ALL: [Garbage; 5] = [
        Self::RandomBytes,
        Self::OversizedPrefix,
        Self::TruncatedFrame,
        Self::WrongType,
        Self::Hang,
    ];

    /// The byte after the magic.
    pub fn to_byte(self) -> u8 {
        self as u8
    }

    /// Reads the byte after the magic; unknown bytes mean random bytes.
    pub fn from_byte(byte: u8) -> Self {
        Self::ALL
            .into_iter()
            .find(|g| g.to_byte() == byte)
            .unwrap_or(Self::RandomBytes)
    }

    /// A label for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RandomBytes => "garbage: random bytes",
            Self::OversizedPrefix => "garbage: oversized length prefix",
            Self::TruncatedFrame => "garbage: truncated frame",
            Self::WrongType => "garbage: frame of the wrong type",
            Self::Hang => "garbage: hang after handshake",
        }
    }

    /// `GARBAGE_MAGIC ++ kind ++ nonce`: unique bytes asking for this misbehaviour.
    pub fn request_bytes(self, nonce: u64) -> Vec<u8> {
        let mut bytes = GARBAGE_MAGIC.to_vec();
        bytes.push(self.to_byte());
        bytes.extend_from_slice(&nonce.to_le_bytes());
        bytes
    }

    /// The misbehaviour `bytes` ask for, if they carry the magic.
    pub fn requested_by(bytes: &[u8]) -> Option<(Self, u64)> {
        let rest = bytes.strip_prefix(GARBAGE_MAGIC)?;
        let (&kind, nonce) = rest.split_first()?;
        let nonce = nonce.get(..8).map_or(0, |n| {
            u64::from_le_bytes(n.try_into().expect("eight bytes"))
        });
        Some((Self::from_byte(kind), nonce))
    }
}
