//! The extension's modules form layers with no circle, as the README's structure
//! picture draws them: a module of `src/` uses only modules of layers below its own
//! (never one of its own layer, never one above). Read from the source: every
//! `crate::<module>` path and every `use crate::{...}` group, comment lines skipped.
//! Needs no PostgreSQL.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Top to bottom, as the README's picture names them (`lib.rs` above them all).
const LAYERS: &[&[&str]] = &[
    &["schedule"],
    &["doctor", "export"],
    &["sync"],
    &["runlog"],
    &["citus", "txn", "runtime", "secrets", "schemas"],
    &["settings", "error", "report"],
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for e in entries {
            rust_files(&e, out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The modules of the crate's top level (`src/<m>.rs` or `src/<m>/`), `lib.rs` aside.
fn modules() -> BTreeSet<String> {
    fs::read_dir(root().join("src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_string();
            (p.is_dir() || p.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|n| n != "lib")
        .collect()
}

/// The top-level modules `text` (one file, comment lines removed) names.
fn uses(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // `use crate::{a, b::c, d}`: the first segment of each top-level item.
            let (mut depth, mut item_start) = (0, true);
            for (i, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        found.insert(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(after));
        }
        rest = after;
    }
    found.retain(|m| modules.contains(m));
    found
}

fn without_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_module_has_a_layer_and_uses_only_layers_below_its_own() {
    let modules = modules();
    let unplaced: Vec<_> = modules.iter().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "modules with no layer in tests/structure.rs (and in the README's picture): {unplaced:?}"
    );
    let mut wrong = Vec::new();
    let mut edges = 0;
    for module in &modules {
        let dir = root().join("src").join(module);
        let mut files = Vec::new();
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else {
            files.push(root().join("src").join(format!("{module}.rs")));
        }
        let own = layer_of(module).unwrap();
        for file in files {
            let text = without_comments(&fs::read_to_string(&file).unwrap());
            for used in uses(&text, &modules) {
                if &used == module {
                    continue;
                }
                edges += 1;
                if layer_of(&used).unwrap() <= own {
                    wrong.push(format!(
                        "{} uses {used} (layer {} -> layer {})",
                        file.strip_prefix(root()).unwrap().display(),
                        own,
                        layer_of(&used).unwrap()
                    ));
                }
            }
        }
    }
    assert!(
        edges > 20,
        "the scan found only {edges} uses: is it reading the source?"
    );
    assert!(
        wrong.is_empty(),
        "uses against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_readme_draws_the_same_layers() {
    let line = std::iter::once("lib.rs".to_string())
        .chain(LAYERS.iter().map(|layer| {
            layer
                .iter()
                .map(|m| {
                    if root().join("src").join(m).is_dir() {
                        format!("{m}/")
                    } else {
                        m.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" · ")
        }))
        .collect::<Vec<_>>()
        .join(" ─▶ ");
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&line),
        "README.md's structure picture should have the line\n   {line}"
    );
}

#[test]
fn the_scan_sees_paths_and_use_groups() {
    let modules: BTreeSet<String> = ["sync", "runlog", "error", "settings"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let text = "use crate::{error::BravoError, settings};\nlet x = crate::sync::run();\nuse crate::{\n    runlog::{self, autonomous},\n};";
    assert_eq!(
        uses(text, &modules).into_iter().collect::<Vec<_>>(),
        ["error", "runlog", "settings", "sync"]
    );
    assert!(without_comments("// crate::sync\nx")
        .find("crate::")
        .is_none());
}
