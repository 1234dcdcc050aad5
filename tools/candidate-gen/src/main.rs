//! `candidate-gen`: builds valid Cumulus parachain blocks offline for a real runtime and writes
//! them as PVF candidates (PoV files plus a vectors JSON), with invalid variants of them.
//! See README.md for usage and where the genesis data comes from.

mod block_builder;
mod extrinsic;
mod genesis;
mod inherents;
mod keys;
mod metadata;
mod negative;
mod output;
mod panic_log;
mod relay_proof;
mod runtime;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use codec::Decode;

use block_builder::{BlockPlan, BuiltBlock, Chain};
use output::{Candidate, Expected};
use runtime::Runtime;

/// Parachain block header (u32 numbers, BLAKE2-256), as every Cumulus chain uses.
pub type Header = sp_runtime::generic::Header<u32, sp_runtime::traits::BlakeTwo256>;

const USAGE: &str =
    "usage: candidate-gen RUNTIME.wasm (--genesis-storage FILE.json | --chain-spec RAW.json)
       [--out DIR] [--label NAME] [--empty-blocks N] [--transfer-blocks M] [--transfers K]
       [--check-genesis] [--no-negatives]

  --genesis-storage  raw top storage map ({\"top\": {...}}), :code may be absent (the blob is used)
  --chain-spec       a raw chain spec (genesis.raw.top); same handling
  --out DIR          output root; candidates go to DIR/LABEL/ (default: ./candidates)
  --label NAME       sub-directory name (default: the blob's file name up to the first '.')
  --empty-blocks N   blocks with inherents only (default 3)
  --transfer-blocks M  blocks that also carry signed transfers (default 3)
  --transfers K      transfers per such block (default 3)
  --check-genesis    only compute the unpatched genesis and compare it with the live chain's
  --no-negatives     write valid candidates only";

/// Command-line options.
struct Args {
    runtime: PathBuf,
    storage: PathBuf,
    out: PathBuf,
    label: Option<String>,
    empty_blocks: u32,
    transfer_blocks: u32,
    transfers: u32,
    check_genesis: bool,
    negatives: bool,
}

fn parse_args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let (mut runtime, mut storage, mut label) = (None, None, None);
    let mut a = Args {
        runtime: PathBuf::new(),
        storage: PathBuf::new(),
        out: PathBuf::from("candidates"),
        label: None,
        empty_blocks: 3,
        transfer_blocks: 3,
        transfers: 3,
        check_genesis: false,
        negatives: true,
    };
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--genesis-storage" | "--chain-spec" => {
                storage = Some(PathBuf::from(value(arg.as_str())?))
            }
            "--out" => a.out = PathBuf::from(value("--out")?),
            "--label" => label = Some(value("--label")?),
            "--empty-blocks" => a.empty_blocks = value("--empty-blocks")?.parse()?,
            "--transfer-blocks" => a.transfer_blocks = value("--transfer-blocks")?.parse()?,
            "--transfers" => a.transfers = value("--transfers")?.parse()?,
            "--check-genesis" => a.check_genesis = true,
            "--no-negatives" => a.negatives = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            s if s.starts_with("--") => bail!("unknown option {s}\n{USAGE}"),
            s if runtime.is_none() => runtime = Some(PathBuf::from(s)),
            s => bail!("unexpected argument {s}\n{USAGE}"),
        }
    }
    a.runtime = runtime.with_context(|| format!("no runtime blob given\n{USAGE}"))?;
    a.storage =
        storage.with_context(|| format!("give --genesis-storage or --chain-spec\n{USAGE}"))?;
    a.label = label;
    Ok(a)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Relay parent number of block 1; any value works as long as it increases.
const RELAY_NUMBER_BASE: u32 = 20_000_000;
/// Relay-chain slot length (ms), fixed on every relay chain.
const RELAY_SLOT_MS: u64 = 6_000;
/// Balance each dev account gets at genesis (plancks).
const ENDOWMENT: u128 = 1_000_000_000_000_000_000;
/// Base amount of a transfer: above any existential deposit, far below the endowment.
const TRANSFER_AMOUNT: u128 = 1_000_000_000_000;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args = parse_args()?;
    panic_log::install();
    let t = Instant::now();
    let rt = Runtime::load(&args.runtime)?;
    let v = &rt.version;
    let sv = rt.state_version();
    println!(
        "runtime {} spec {} v{} tx v{} state {:?} (loaded in {} ms)",
        file_name(&args.runtime),
        v.spec_name,
        v.spec_version,
        v.transaction_version,
        sv,
        t.elapsed().as_millis()
    );

    let mut top = genesis::load_top(&args.storage)?;
    let para_id_key = genesis::storage_prefix("ParachainInfo", "ParachainId");
    let para_id = top
        .get(&para_id_key)
        .map(|v| u32::decode(&mut &v[..]))
        .transpose()?
        .context("the genesis has no ParachainInfo::ParachainId")?;

    let plain = genesis::build(top.clone(), rt.blob(), sv);
    let hash = plain.header.hash();
    // `:code` is the runtime blob, whether or not the storage file had it.
    let keys = top.len() + usize::from(!top.contains_key(sp_core::storage::well_known_keys::CODE));
    println!("para {para_id}, {keys} genesis keys");
    println!(
        "unpatched genesis: state root {:?}, hash {:?}",
        plain.header.state_root, hash
    );
    match genesis::live_genesis_hash(&v.spec_name, v.spec_version) {
        Some(live) if live == hash => println!("unpatched genesis hash matches the live chain's"),
        Some(live) => bail!(
            "unpatched genesis hash differs from the live chain's {live:?}: wrong storage file?"
        ),
        None => println!("(live genesis hash of this runtime unknown to the tool; not checked)"),
    }
    if args.check_genesis {
        return Ok(());
    }

    let dev: Vec<keys::DevKey> = keys::DEV_NAMES
        .iter()
        .map(|n| keys::DevKey::dev(n))
        .collect::<Result<_>>()?;
    let author = dev[0].clone(); // //Alice
    let publics: Vec<[u8; 32]> = dev.iter().map(|k| k.public).collect();
    genesis::apply_dev_patch(&mut top, &[author.public], &publics, ENDOWMENT)?;
    let g = genesis::build(top, rt.blob(), sv);
    let genesis_hash = g.header.hash();
    println!("patched genesis (Aura = //Alice, dev accounts endowed): hash {genesis_hash:?}");

    let slot_ms: u64 = rt.call_decode(&g.backend, "AuraApi_slot_duration", &[])?;
    ensure!(
        slot_ms > 0 && slot_ms.is_multiple_of(RELAY_SLOT_MS),
        "slot duration {slot_ms} ms is not a multiple of the relay's 6 s; slots cannot agree"
    );
    let tx = if args.transfer_blocks > 0 {
        let opaque: Vec<u8> = rt.call_decode(&g.backend, "Metadata_metadata", &[])?;
        let md = metadata::parse(&opaque)?;
        let names: Vec<&str> = md
            .extensions
            .iter()
            .map(|e| e.identifier.as_str())
            .collect();
        println!(
            "slot {slot_ms} ms; Balances index {} transfer_keep_alive {}; extensions {names:?}",
            md.balances_index, md.transfer_keep_alive
        );
        let ctx = extrinsic::ChainContext {
            spec_version: v.spec_version,
            transaction_version: v.transaction_version,
            genesis_hash,
        };
        Some((md, ctx))
    } else {
        None
    };

    let label = args.label.clone().unwrap_or_else(|| {
        file_name(&args.runtime)
            .split('.')
            .next()
            .unwrap_or("runtime")
            .to_string()
    });
    let dir = args.out.join(&label);
    let mut chain = Chain::new(&rt, g.backend, g.header, para_id, author);
    let mut nonces = vec![0u32; dev.len()];
    let mut candidates: Vec<Candidate> = Vec::new();
    let first_slot = 1_700_000_000_000 / slot_ms;
    let total = args.empty_blocks + args.transfer_blocks;
    for n in 1..=total {
        let para_slot = first_slot + u64::from(n);
        let timestamp_ms = para_slot * slot_ms;
        let mut transactions = Vec::new();
        if n > args.empty_blocks {
            let (md, ctx) = tx
                .as_ref()
                .expect("metadata read when transfer blocks are asked for");
            for j in 0..args.transfers {
                let from = (n + j) as usize % dev.len();
                let to = (from + 1) % dev.len();
                let amount = TRANSFER_AMOUNT + u128::from(n) * 1_000 + u128::from(j);
                let x = extrinsic::signed_transfer(
                    md,
                    ctx,
                    &dev[from],
                    nonces[from],
                    &dev[to].public,
                    amount,
                )?;
                nonces[from] += 1;
                transactions.push(x);
            }
        }
        let plan = BlockPlan {
            para_slot,
            timestamp_ms,
            relay_slot: timestamp_ms / RELAY_SLOT_MS,
            relay_parent_number: RELAY_NUMBER_BASE + n,
            transactions,
        };
        let t = Instant::now();
        let b = chain.build_block(&plan)?;
        let build_ms = t.elapsed().as_secs_f64() * 1e3;
        let c = self_check(&rt, &b, n, build_ms)?;
        candidates.push(c);
        let first_transfer_block = n == args.empty_blocks + 1 && args.transfer_blocks > 0;
        if args.negatives && (n == 1 || first_transfer_block) {
            candidates.extend(check_negatives(&rt, &b, n, &dev[1])?);
        }
    }

    let desc = format!(
        "Candidates for {} (spec {} v{}, para {para_id}) built offline by tools/candidate-gen from the \
         live genesis with //Alice as the only Aura authority and the dev accounts endowed. \
         Derived from third-party data: do not commit.",
        file_name(&args.runtime),
        v.spec_name,
        v.spec_version
    );
    let path = output::write_all(&dir, &file_name(&args.runtime), &desc, &candidates)?;
    let valid = candidates
        .iter()
        .filter(|c| matches!(c.expected, Expected::Valid(_)))
        .count();
    println!(
        "wrote {} candidates ({valid} valid, {} invalid) to {}",
        candidates.len(),
        candidates.len() - valid,
        path.display()
    );
    Ok(())
}

/// Runs `validate_block` on a freshly built block and requires the result the collator
/// computed; returns the candidate.
fn self_check(rt: &Runtime, b: &BuiltBlock, n: u32, build_ms: f64) -> Result<Candidate> {
    let params = b.params();
    panic_log::take();
    let t = Instant::now();
    let got = rt.validate_block(&params).map_err(|e| {
        let why = panic_log::take().unwrap_or(e);
        anyhow::anyhow!("block {n}: validate_block rejected our own block: {why}")
    })?;
    let validate_ms = t.elapsed().as_secs_f64() * 1e3;
    ensure!(
        got == b.expected_result,
        "block {n}: validate_block returned {} but CollectCollationInfo gives {}",
        hex::encode(&got),
        hex::encode(&b.expected_result)
    );
    let transfers = b.extrinsics.len() - b.inherent_count;
    println!(
        "block {n} {:?}: {} inherents + {transfers} transfers, proof {} nodes, block data {} bytes, \
         built in {build_ms:.1} ms, validate_block {validate_ms:.1} ms: result matches CollectCollationInfo",
        b.header.hash(),
        b.inherent_count,
        b.proof.encoded_nodes.len(),
        params.block_data.0.len(),
    );
    Ok(Candidate {
        name: format!("block-{n}"),
        note: format!(
            "block {n} ({} inherents, {transfers} signed transfers), relay parent {}",
            b.inherent_count, b.relay_parent_number
        ),
        pvd: b.pvd(),
        params,
        expected: Expected::Valid(got),
    })
}

/// Builds the invalid variants of block `n` and keeps those `validate_block` rejects, with
/// the trap message as the reason; one that passes is an error (the mutation is not checked).
fn check_negatives(
    rt: &Runtime,
    b: &BuiltBlock,
    n: u32,
    outsider: &keys::DevKey,
) -> Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for mut c in negative::mutations(b, &n.to_string(), outsider)? {
        panic_log::take();
        match rt.validate_block(&c.params) {
            Ok(r) => bail!(
                "{}: validate_block accepted it ({}): {}",
                c.name,
                c.note,
                hex::encode(r)
            ),
            Err(e) => {
                // The runtime's panic message if it logged one, else the executor's error.
                let why = panic_log::take().unwrap_or(e);
                let reason: String = why.lines().next().unwrap_or("").chars().take(200).collect();
                println!("  {} rejected: {reason}", c.name);
                c.expected = Expected::Trap(reason);
                out.push(c);
            }
        }
    }
    Ok(out)
}
