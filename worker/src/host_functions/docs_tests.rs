//! docs/host-functions.md against the code: its table must list exactly the functions we link,
//! with their signatures and sets, and its `trap` rows must trap.

use super::tests::{Arg, TESTED, call_ours, new_instance, reference_ecc_functions};
use pvf_common::host_function_signatures::{
    HostFunctionSignature, PVF_HOST_FUNCTIONS, RFC163_HOST_FUNCTIONS, ValType,
};
use std::collections::BTreeMap;

// The harness links the RFC-163 functions too.
const _: () = assert!(TESTED.ecc_rfc163);

const DOC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../docs/host-functions.md"
));

/// One row of the table: signature, set, what we do.
#[derive(Debug, PartialEq, Eq)]
struct Row {
    signature: String,
    set: String,
    ours: String,
}

/// The table's rows by function name; panics on a duplicate.
fn doc_rows() -> BTreeMap<String, Row> {
    let mut rows = BTreeMap::new();
    for line in DOC.lines().filter(|l| l.starts_with("| `ext_")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let cell = |i: usize| {
            cells
                .get(i)
                .copied()
                .unwrap_or("")
                .trim_matches('`')
                .to_string()
        };
        let row = Row {
            signature: cell(2),
            set: cell(3),
            ours: cell(4),
        };
        assert!(
            rows.insert(cell(1), row).is_none(),
            "docs/host-functions.md lists {} twice",
            cell(1)
        );
    }
    rows
}

fn signature_text(params: &[ValType], result: Option<ValType>) -> String {
    let name = |t: &ValType| match t {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
    };
    let params: Vec<_> = params.iter().map(name).collect();
    let result = result
        .map(|r| format!(" -> {}", name(&r)))
        .unwrap_or_default();
    format!("({}){result}", params.join(", "))
}

/// The code's side: name → (signature, set).
fn code_rows() -> BTreeMap<String, (String, String)> {
    let entry = |f: &HostFunctionSignature, set: &str| {
        let sig = signature_text(f.params, f.result);
        (f.name.to_string(), (sig, set.to_string()))
    };
    let base = PVF_HOST_FUNCTIONS.iter().map(|f| entry(f, "base"));
    base.chain(RFC163_HOST_FUNCTIONS.iter().map(|f| entry(f, "rfc163")))
        .collect()
}

#[test]
fn the_docs_table_is_the_linked_set() {
    let doc = doc_rows();
    let code = code_rows();
    let only_in_doc: Vec<_> = doc.keys().filter(|n| !code.contains_key(*n)).collect();
    let only_in_code: Vec<_> = code.keys().filter(|n| !doc.contains_key(*n)).collect();
    assert!(
        only_in_doc.is_empty() && only_in_code.is_empty(),
        "docs/host-functions.md and the linker disagree: only in the doc {only_in_doc:?}, \
         only in the code {only_in_code:?}"
    );
    for (name, (signature, set)) in &code {
        let row = &doc[name];
        assert_eq!(&row.signature, signature, "{name}: signature in the doc");
        assert_eq!(&row.set, set, "{name}: set in the doc");
        assert!(
            row.ours == "implemented" || row.ours.starts_with("trap"),
            "{name}: unknown status {:?}",
            row.ours
        );
    }
}

#[test]
fn the_docs_trap_rows_trap() {
    for (name, row) in doc_rows() {
        if !row.ours.starts_with("trap") {
            continue;
        }
        let f = TESTED.find(&name).unwrap();
        let args: Vec<Arg> = f
            .params
            .iter()
            .map(|t| match t {
                ValType::I32 => Arg::I32(0),
                ValType::I64 => Arg::I64(0),
            })
            .collect();
        let (mut store, instance) = new_instance(false);
        let result = call_ours(&mut store, &instance, &name, &args);
        assert!(result.is_err(), "{name} is documented to trap: {result:?}");
    }
}

/// Prints the reference's set in the table's format, from the crates themselves (sp-io for
/// the base set, sp-crypto-ec-utils for RFC-163): the *ours* column is left to fill in.
/// See "Checking a new release" in docs/host-functions.md.
#[test]
#[ignore = "prints the reference's table for a release check"]
fn print_reference_host_function_table() {
    use sp_wasm_interface::ValueType;
    let ours = |t: &ValueType| match t {
        ValueType::I32 => ValType::I32,
        ValueType::I64 => ValType::I64,
        other => panic!("a PVF host function with a {other:?} value"),
    };
    let sets = [
        ("base", super::tests::reference_functions()),
        ("rfc163", reference_ecc_functions()),
    ];
    for (set, functions) in sets {
        for f in functions {
            let sig = f.signature();
            let params: Vec<_> = sig.args.iter().map(ours).collect();
            let text = signature_text(&params, sig.return_value.as_ref().map(ours));
            println!("| `{}` | `{text}` | {set} | ? | ? |", f.name());
        }
    }
}
