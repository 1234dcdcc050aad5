//! Signed `Balances::transfer_keep_alive` extrinsics (format v4), encoded by hand from the
//! runtime's metadata, so signature verification runs inside `validate_block`.

use anyhow::{Result, bail};
use codec::{Compact, Encode};
use sp_core::H256;

use crate::keys::DevKey;
use crate::metadata::TxMetadata;

/// What the signed extensions sign over besides the call.
#[derive(Debug, Clone, Copy)]
pub struct ChainContext {
    /// `Core_version().spec_version`.
    pub spec_version: u32,
    /// `Core_version().transaction_version`.
    pub transaction_version: u32,
    /// The hash of the (patched) genesis block that the chain being built starts from.
    pub genesis_hash: H256,
}

/// Version byte of a signed v4 extrinsic: bit 7 = signed, low bits = 4.
const SIGNED_V4: u8 = 0x84;
/// `MultiAddress::Id` and `MultiSignature::Sr25519` variant indices.
const MULTI_ADDRESS_ID: u8 = 0;
const MULTI_SIGNATURE_SR25519: u8 = 1;

/// Encodes the extension data of every signed extension, in metadata order: the part carried
/// in the extrinsic (`extra`) and the part only signed (`additional`). Immortal era, no tip.
fn extensions(md: &TxMetadata, ctx: &ChainContext, nonce: u32) -> Result<(Vec<u8>, Vec<u8>)> {
    let (mut extra, mut additional) = (Vec::new(), Vec::new());
    for ext in &md.extensions {
        match ext.identifier.as_str() {
            "CheckNonZeroSender" | "CheckWeight" => {}
            "CheckSpecVersion" => ctx.spec_version.encode_to(&mut additional),
            "CheckTxVersion" => ctx.transaction_version.encode_to(&mut additional),
            "CheckGenesis" => ctx.genesis_hash.encode_to(&mut additional),
            "CheckMortality" | "CheckEra" => {
                extra.push(0x00); // Era::Immortal
                ctx.genesis_hash.encode_to(&mut additional); // immortal: the genesis hash
            }
            "CheckNonce" => Compact(nonce).encode_to(&mut extra),
            "ChargeTransactionPayment" => Compact(0u128).encode_to(&mut extra), // tip
            "ChargeAssetTxPayment" => {
                Compact(0u128).encode_to(&mut extra); // tip
                extra.push(0x00); // asset_id: None, pay in the native token
            }
            "CheckMetadataHash" => {
                extra.push(0x00); // mode: disabled
                additional.push(0x00); // metadata hash: None
            }
            // Carries no data either way, so there is nothing to encode.
            _ if ext.extra_empty && ext.additional_empty => {}
            other => bail!(
                "signed extension {other} carries data this tool does not know how to fill; \
                 add it to extrinsic::extensions"
            ),
        }
    }
    Ok((extra, additional))
}

/// The call `Balances::transfer_keep_alive(dest, value)`.
fn transfer_call(md: &TxMetadata, dest: &[u8; 32], value: u128) -> Vec<u8> {
    let mut call = vec![md.balances_index, md.transfer_keep_alive, MULTI_ADDRESS_ID];
    call.extend_from_slice(dest);
    Compact(value).encode_to(&mut call);
    call
}

/// A signed transfer of `value` from `from` (with account nonce `nonce`) to `to`, as the
/// full extrinsic bytes (length-prefixed, as they appear in a block body).
pub fn signed_transfer(
    md: &TxMetadata,
    ctx: &ChainContext,
    from: &DevKey,
    nonce: u32,
    to: &[u8; 32],
    value: u128,
) -> Result<Vec<u8>> {
    let call = transfer_call(md, to, value);
    let (extra, additional) = extensions(md, ctx, nonce)?;
    let payload = [&call[..], &extra[..], &additional[..]].concat();
    // Payloads over 256 bytes are signed by hash (Substrate's SignedPayload rule).
    let signature = if payload.len() > 256 {
        from.sign(&sp_crypto_hashing::blake2_256(&payload))
    } else {
        from.sign(&payload)
    };
    let mut body = vec![SIGNED_V4, MULTI_ADDRESS_ID];
    body.extend_from_slice(&from.public);
    body.push(MULTI_SIGNATURE_SR25519);
    body.extend_from_slice(&signature);
    body.extend_from_slice(&extra);
    body.extend_from_slice(&call);
    let mut full = Compact(body.len() as u32).encode();
    full.extend(body);
    Ok(full)
}

/// Byte offset, within the full extrinsic from [`signed_transfer`], of the last byte of the
/// call (inside the compact amount), for the tampered-extrinsic negative.
pub fn amount_byte_offset(full: &[u8]) -> usize {
    full.len() - 1
}
