//! The house rule "no import cycle inside `host/`", checked on the sources: every module's
//! `crate::…` paths (outside its tests) give the edges, and the graph must be acyclic. A module
//! may use its parent (`super`) and its own children; those edges are not counted.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// Module path (`prepare::pool`) → source text without its `#[cfg(test)]` tail.
fn modules() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("the source dir") {
            let path = entry.expect("a dir entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let Some(rel) = rel.strip_suffix(".rs") else {
                continue;
            };
            if rel.ends_with("tests") || rel.ends_with("test_harness") {
                continue;
            }
            let name = rel.trim_end_matches("/mod").replace('/', "::");
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            out.insert(name, text.to_string());
        }
    }
    out
}

/// Every full path written after `crate::`, with `{a, b::{c}}` groups expanded.
fn crate_paths(text: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let (group, _) = parse_tree(rest);
        paths.extend(group);
    }
    paths
}

/// Parses `seg::seg::{tree, tree}` at the start of `s`; returns the paths and the rest.
fn parse_tree(s: &str) -> (Vec<String>, &str) {
    let s = s.trim_start();
    if let Some(inner) = s.strip_prefix('{') {
        let mut paths = Vec::new();
        let mut rest = inner;
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                return (paths, after);
            }
            let (sub, after) = parse_tree(rest);
            paths.extend(sub);
            rest = after.trim_start();
            rest = rest.strip_prefix(',').unwrap_or(rest);
            if rest.is_empty() {
                return (paths, rest);
            }
        }
    }
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    let (segment, rest) = s.split_at(end);
    if segment.is_empty() {
        // `self`, `*` or punctuation: nothing more to follow.
        let skip = rest.find([',', '}', ';']).unwrap_or(rest.len());
        return (Vec::new(), &rest[skip..]);
    }
    if let Some(after) = rest.strip_prefix("::") {
        let (subs, rest) = parse_tree(after);
        let paths = if subs.is_empty() {
            vec![segment.to_string()]
        } else {
            subs.into_iter()
                .map(|p| format!("{segment}::{p}"))
                .collect()
        };
        return (paths, rest);
    }
    (vec![segment.to_string()], rest)
}

fn is_within(module: &str, ancestor: &str) -> bool {
    module == ancestor || module.starts_with(&format!("{ancestor}::"))
}

#[test]
fn modules_of_the_host_import_one_another_without_cycles() {
    let modules = modules();
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, text) in &modules {
        let targets = edges.entry(name).or_default();
        for path in crate_paths(text) {
            let target = modules
                .keys()
                .filter(|m| is_within(&path, m))
                .max_by_key(|m| m.len());
            if let Some(target) = target
                && !is_within(name, target)
                && !is_within(target, name)
            {
                targets.insert(target);
            }
        }
    }
    assert!(
        edges["prepare::pool"].contains("worker_interface"),
        "the parser must see real imports: {edges:?}"
    );
    // Depth-first search for a back edge.
    fn visit<'a>(
        node: &'a str,
        edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if let Some(at) = stack.iter().position(|n| *n == node) {
            panic!("import cycle: {} -> {node}", stack[at..].join(" -> "));
        }
        if done.contains(node) {
            return;
        }
        stack.push(node);
        for next in &edges[node] {
            visit(next, edges, stack, done);
        }
        stack.pop();
        done.insert(node);
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        visit(node, &edges, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_path_parser_expands_groups() {
    let text = "use crate::{a::{b, c::D}, e}; let x = crate::f::g(1);";
    assert_eq!(crate_paths(text), ["a::b", "a::c::D", "e", "f::g"]);
}
