//! Invalid candidates derived from a valid one, each broken in one place that
//! `validate_block` must catch.

use anyhow::Result;
use codec::Encode;
use polkadot_parachain_primitives::primitives::{BlockData, HeadData};
use sp_runtime::DigestItem;

use crate::Header;
use crate::block_builder::{BuiltBlock, encode_block_data};
use crate::keys::{self, DevKey};
use crate::output::{Candidate, Expected};

/// One way to break a candidate.
struct Mutation {
    /// Short name, part of the candidate name.
    tag: &'static str,
    /// What was changed and where the runtime should fail.
    note: String,
    /// The broken candidate (expected verdict filled in by the caller).
    candidate: Candidate,
}

/// The valid candidate of `b`; name and note are filled in once the mutation is known.
fn base(b: &BuiltBlock) -> Candidate {
    Candidate {
        name: String::new(),
        note: String::new(),
        params: b.params(),
        pvd: b.pvd(),
        expected: Expected::Trap(String::new()),
    }
}

fn with_block_data(mut c: Candidate, data: Vec<u8>) -> Candidate {
    c.params.block_data = BlockData(data);
    c
}

/// The header without its seal, as it was before sealing.
fn unsealed(h: &Header) -> Header {
    let mut u = h.clone();
    u.digest.logs.retain(|d| !matches!(d, DigestItem::Seal(..)));
    u
}

/// Every mutation of `b` that applies; `tag` names the source block (e.g. `3`).
/// `outsider` is a key that is not an Aura authority.
pub fn mutations(b: &BuiltBlock, tag: &str, outsider: &DevKey) -> Result<Vec<Candidate>> {
    let mut out: Vec<Mutation> = Vec::new();
    let header = b.header.encode();

    // A byte inside the largest proof node: its hash no longer matches its parent's
    // reference (or the root), so the proof does not decode to the parent state.
    if let Some((idx, node)) = b
        .proof
        .encoded_nodes
        .iter()
        .enumerate()
        .max_by_key(|(_, n)| n.len())
    {
        let mut proof = b.proof.clone();
        proof.encoded_nodes[idx][node.len() / 2] ^= 0x01;
        let c = base(b);
        out.push(Mutation {
            tag: "proof-byte",
            note: format!(
                "byte {} of proof node {idx} ({} bytes) flipped",
                node.len() / 2,
                node.len()
            ),
            candidate: with_block_data(c, encode_block_data(&header, &b.extrinsics, &proof)),
        });
    }

    // The parent head no longer hashes to the block's parent hash (a state-root byte flipped).
    {
        let mut c = base(b);
        let mut parent = b.parent_head.clone();
        let at = 40.min(parent.len() - 1);
        parent[at] ^= 0x01;
        c.params.parent_head = HeadData(parent.clone());
        c.pvd.parent_head = HeadData(parent);
        out.push(Mutation {
            tag: "parent-head",
            note: format!("parent head byte {at} flipped"),
            candidate: c,
        });
    }

    // The relay parent storage root differs from the one in the inherent (PoV untouched).
    {
        let mut c = base(b);
        c.params.relay_parent_storage_root.0[0] ^= 0x01;
        c.pvd.relay_parent_storage_root = c.params.relay_parent_storage_root;
        out.push(Mutation {
            tag: "relay-root",
            note: "ValidationParams.relay_parent_storage_root differs from the inherent's".into(),
            candidate: c,
        });
    }

    // Sealed by a key that is not an authority.
    {
        let resealed = keys::seal(&unsealed(&b.header), outsider)?;
        let c = base(b);
        out.push(Mutation {
            tag: "bad-seal",
            note: format!("sealed by {} (not an Aura authority)", outsider.name),
            candidate: with_block_data(
                c,
                encode_block_data(&resealed.encode(), &b.extrinsics, &b.proof),
            ),
        });
    }

    // No seal at all.
    {
        let c = base(b);
        out.push(Mutation {
            tag: "no-seal",
            note: "the Aura seal digest removed".into(),
            candidate: with_block_data(
                c,
                encode_block_data(&unsealed(&b.header).encode(), &b.extrinsics, &b.proof),
            ),
        });
    }

    // A signed transfer's amount changed after signing (header kept).
    if let Some(first) = b.extrinsics.get(b.inherent_count) {
        let mut xs = b.extrinsics.clone();
        let at = crate::extrinsic::amount_byte_offset(first);
        xs[b.inherent_count][at] ^= 0x01;
        let c = base(b);
        out.push(Mutation {
            tag: "tampered-transfer",
            note: format!(
                "byte {at} of the first signed transfer (its amount) flipped after signing"
            ),
            candidate: with_block_data(c, encode_block_data(&header, &xs, &b.proof)),
        });
    }

    Ok(out
        .into_iter()
        .map(|m| Candidate {
            name: format!("neg-{}-{tag}", m.tag),
            note: m.note,
            ..m.candidate
        })
        .collect())
}
