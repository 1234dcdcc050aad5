//! What signing a balance transfer needs from the runtime's own metadata (V14): the Balances
//! pallet and call indices, and the ordered list of signed extensions. Read at run time so
//! nothing about a particular runtime release is hard-coded.

use anyhow::{Context, Result, bail};
use codec::Decode;
use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed, v14::RuntimeMetadataV14};
use scale_info::{PortableRegistry, TypeDef};

/// The parts of the metadata the extrinsic encoder uses.
#[derive(Debug, Clone)]
pub struct TxMetadata {
    /// Index of the `Balances` pallet in the runtime's call enum.
    pub balances_index: u8,
    /// Index of `transfer_keep_alive` in the Balances call enum.
    pub transfer_keep_alive: u8,
    /// Signed extension identifiers, in order, with whether their `extra` / `additional`
    /// types are empty (so unknown ones can still be encoded when they carry no data).
    pub extensions: Vec<Extension>,
}

/// One signed (transaction) extension as listed in the metadata.
#[derive(Debug, Clone)]
pub struct Extension {
    /// E.g. `CheckNonce`.
    pub identifier: String,
    /// The value carried in the extrinsic is zero-sized.
    pub extra_empty: bool,
    /// The value signed but not carried is zero-sized.
    pub additional_empty: bool,
}

/// Decodes the bytes inside the answer of `Metadata_metadata` (an `OpaqueMetadata`).
pub fn parse(bytes: &[u8]) -> Result<TxMetadata> {
    let prefixed = RuntimeMetadataPrefixed::decode(&mut &bytes[..])
        .context("cannot decode the runtime metadata")?;
    match prefixed.1 {
        RuntimeMetadata::V14(m) => from_v14(&m),
        other => bail!(
            "metadata version {} is not supported (only V14, which every corpus runtime serves)",
            other.version()
        ),
    }
}

fn from_v14(m: &RuntimeMetadataV14) -> Result<TxMetadata> {
    if m.extrinsic.version != 4 {
        bail!(
            "extrinsic version {} is not supported (only 4)",
            m.extrinsic.version
        );
    }
    let pallet = m
        .pallets
        .iter()
        .find(|p| p.name == "Balances")
        .context("the runtime has no Balances pallet, so no transfers can be built")?;
    let calls = pallet.calls.as_ref().context("Balances has no calls")?;
    let TypeDef::Variant(variants) = &resolve(&m.types, calls.ty.id)?.type_def else {
        bail!("the Balances call type is not an enum");
    };
    let call = variants
        .variants
        .iter()
        .find(|v| v.name == "transfer_keep_alive")
        .context("Balances has no transfer_keep_alive call")?;
    let field_names: Vec<_> = call.fields.iter().filter_map(|f| f.name.clone()).collect();
    if field_names != ["dest", "value"] {
        bail!("Balances::transfer_keep_alive takes {field_names:?}, expected [dest, value]");
    }
    let dest_ty = resolve(&m.types, call.fields[0].ty.id)?;
    if dest_ty.path.segments.last().map(String::as_str) != Some("MultiAddress") {
        bail!(
            "transfer destinations are {:?}, expected a MultiAddress",
            dest_ty.path.segments
        );
    }
    let extensions = m
        .extrinsic
        .signed_extensions
        .iter()
        .map(|e| {
            Ok(Extension {
                identifier: e.identifier.clone(),
                extra_empty: is_empty(&m.types, e.ty.id)?,
                additional_empty: is_empty(&m.types, e.additional_signed.id)?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(TxMetadata {
        balances_index: pallet.index,
        transfer_keep_alive: call.index,
        extensions,
    })
}

fn resolve(
    types: &PortableRegistry,
    id: u32,
) -> Result<&scale_info::Type<scale_info::form::PortableForm>> {
    types
        .resolve(id)
        .with_context(|| format!("metadata type {id} is missing"))
}

/// Whether a type encodes to zero bytes (unit, empty tuple, field-less struct, or made only of those).
fn is_empty(types: &PortableRegistry, id: u32) -> Result<bool> {
    Ok(match &resolve(types, id)?.type_def {
        TypeDef::Tuple(t) => t
            .fields
            .iter()
            .map(|f| is_empty(types, f.id))
            .collect::<Result<Vec<_>>>()?
            .iter()
            .all(|e| *e),
        TypeDef::Composite(c) => c
            .fields
            .iter()
            .map(|f| is_empty(types, f.ty.id))
            .collect::<Result<Vec<_>>>()?
            .iter()
            .all(|e| *e),
        _ => false,
    })
}
