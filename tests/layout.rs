//! The crate's layout, checked: modules import each other by their own
//! paths (never through the crate root's re-exports), no two top-level
//! modules and no two sibling files import each other in a circle, no
//! function in `src/` runs past 80 lines, and no Rust file past 400.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FN_LINES: usize = 80;
const MAX_FILE_LINES: usize = 400;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/`'s files, as paths relative to `src/` (`token/renew.rs`), with
/// their code: comment lines and doc attributes dropped, and unit tests (`tests.rs` files,
/// `mod tests` blocks, which end their file here), which build their
/// fixtures from any part of the crate and are not part of its layers.
fn sources() -> BTreeMap<String, Vec<String>> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|path| {
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text
                .lines()
                .take_while(|l| {
                    !rel.ends_with("tests.rs")
                        && !rel.contains("/tests/")
                        && !l.trim_start().starts_with("mod tests {")
                })
                .map(|l| {
                    // Doc text, in comments or in `doc = "…"` attributes
                    // (a link's target is not an import).
                    if l.trim_start().starts_with("//") || l.contains("doc = \"") {
                        ""
                    } else {
                        l
                    }
                })
                .map(str::to_owned)
                .collect();
            (rel, code)
        })
        .collect()
}

/// The modules `lib.rs` declares.
fn modules(lib: &[String]) -> BTreeSet<String> {
    lib.iter()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .collect()
}

/// Every path that starts `crate::` or `super::` in `line`, as its
/// segments (the items of a `{…}` group each give one path).
fn paths(line: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        let mut rest = line;
        while let Some(at) = rest.find(start) {
            let before = rest[..at].chars().last();
            rest = &rest[at..];
            let taken: String = rest
                .chars()
                .take_while(|c| {
                    c.is_alphanumeric() || matches!(c, '_' | ':' | '{' | '}' | ',' | ' ')
                })
                .collect();
            rest = &rest[start.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let head = start.trim_end_matches("::").to_owned();
            let body = taken[start.len()..].trim();
            match body.strip_prefix('{') {
                Some(group) => {
                    let group = group.split('}').next().unwrap_or("");
                    for item in group.split(',') {
                        let mut segs = vec![head.clone()];
                        segs.extend(item.trim().split("::").map(|s| s.trim().to_owned()));
                        out.push(segs);
                    }
                }
                None => {
                    let mut segs = vec![head.clone()];
                    let body = body.split([' ', ',', '{', '}']).next().unwrap_or("");
                    segs.extend(
                        body.split("::")
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned),
                    );
                    out.push(segs);
                }
            }
        }
    }
    out
}

fn top(file: &str) -> &str {
    file.split('/').next().unwrap().trim_end_matches(".rs")
}

/// The module path of a file: `token/renew.rs` is `token::renew`,
/// `token/mod.rs` is `token`.
fn module_of(file: &str) -> Vec<String> {
    let mut segs: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if segs.last().is_some_and(|s| s == "mod" || s == "lib") {
        segs.pop();
    }
    segs
}

/// The file that holds the module `path`, if it is one.
fn file_of(path: &[String], files: &BTreeMap<String, Vec<String>>) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let joined = path.join("/");
    [format!("{joined}.rs"), format!("{joined}/mod.rs")]
        .into_iter()
        .find(|c| files.contains_key(c))
}

/// The file a path used in `file` reaches: the deepest module it names.
fn target(file: &str, segs: &[String], files: &BTreeMap<String, Vec<String>>) -> Option<String> {
    let mut path = match segs[0].as_str() {
        "crate" => Vec::new(),
        _ => {
            let mut own = module_of(file);
            own.pop();
            own
        }
    };
    for seg in &segs[1..] {
        path.push(seg.clone());
        if file_of(&path, files).is_none() {
            path.pop();
            break;
        }
    }
    file_of(&path, files)
}

/// A cycle in `edges`, if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|n| n == next).unwrap();
                    let mut found = stack[from..].to_vec();
                    found.push(next.clone());
                    return Some(found);
                }
                0 => {
                    if let Some(found) = visit(next, edges, state, stack) {
                        return Some(found);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(found) = visit(node, edges, &mut state, &mut Vec::new()) {
                return Some(found);
            }
        }
    }
    None
}

#[test]
fn modules_import_by_their_own_paths_and_form_no_cycle() {
    let files = sources();
    let modules = modules(&files["lib.rs"]);
    let mut through_root = Vec::new();
    let mut module_edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut file_edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, code) in &files {
        if file == "lib.rs" {
            continue;
        }
        for line in code {
            for segs in paths(line) {
                if segs[0] == "crate" {
                    let Some(first) = segs.get(1) else { continue };
                    if !modules.contains(first) {
                        through_root.push(format!("{file}: crate::{}", segs[1..].join("::")));
                        continue;
                    }
                    if first != top(file) {
                        module_edges
                            .entry(top(file).to_owned())
                            .or_default()
                            .insert(first.clone());
                    }
                }
                if let Some(to) = target(file, &segs, &files) {
                    // A module's own file declares and re-exports its
                    // children: that is not an import.
                    let parent_of = |child: &str| {
                        file.strip_suffix("mod.rs")
                            .is_some_and(|dir| child.starts_with(dir))
                    };
                    if to != *file && !parent_of(&to) {
                        file_edges.entry(file.clone()).or_default().insert(to);
                    }
                }
            }
        }
    }
    assert!(
        through_root.is_empty(),
        "imports through the crate root's re-exports:\n{}",
        through_root.join("\n")
    );
    assert_eq!(
        cycle(&module_edges),
        None,
        "modules import each other in a circle"
    );
    assert_eq!(
        cycle(&file_edges),
        None,
        "files import each other in a circle"
    );
}

#[test]
fn functions_and_files_stay_short() {
    let mut long = Vec::new();
    for (file, code) in sources() {
        if file.ends_with("tests.rs") || file.contains("/tests/") {
            continue;
        }
        for (at, line) in code.iter().enumerate() {
            let trimmed = line.trim_start();
            let is_fn = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "pub(super) fn ",
                "async fn ",
                "pub async fn ",
                "pub(crate) async fn ",
                "pub(super) async fn ",
            ]
            .iter()
            .any(|p| trimmed.starts_with(p));
            if !is_fn || trimmed.ends_with(';') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let end = code[at..]
                .iter()
                .position(|l| {
                    l.len() > indent
                        && l.starts_with(&" ".repeat(indent))
                        && l[indent..].starts_with('}')
                })
                .unwrap_or(0);
            if end > MAX_FN_LINES {
                long.push(format!("src/{file}:{} ({end} lines)", at + 1));
            }
        }
    }
    for dir in ["src", "tests", "examples", "benches"] {
        let mut files = Vec::new();
        rust_files(&root().join(dir), &mut files);
        for path in files {
            let lines = std::fs::read_to_string(&path).unwrap().lines().count();
            if lines > MAX_FILE_LINES {
                long.push(format!("{} ({lines} lines in the file)", path.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "too long to read in one sitting:\n{}",
        long.join("\n")
    );
}
