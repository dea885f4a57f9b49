//! The shape of the house, checked: no import circle among the files of `src/`, and no file over 500
//! lines except those README's "Code layout" names with a reason.
//!
//! An edge `a.rs → b.rs` is any path in `a.rs`'s code (a `use`, or a `crate::…`/`super::…`/child path
//! in an expression) that names something defined in `b.rs`. Names re-exported with `pub use` are
//! followed to the file that defines them (a re-export is an alias, not a dependency on the facade);
//! `mod x;` declarations are not edges. Comments and string literals are ignored.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

/// Files allowed over the limit, with the reason README gives.
const LONG_FILES: &[(&str, &str)] = &[];
const MAX_LINES: usize = 500;

type ModPath = Vec<String>;

struct File {
    path: PathBuf,
    module: ModPath,
    code: String,
    /// Where an inline `mod tests {` starts (paths after it are relative to `module::tests`).
    tests_at: Option<usize>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            if p.file_name().unwrap() != "bin" {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn module_of(src: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The code with comments and string/char literals blanked out (lengths kept, so offsets hold).
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                out.push(if b[i] == b'\n' { '\n' } else { ' ' });
                i += 1;
            }
            out.push_str("  ");
            i += 2;
        } else if c == b'r' && matches!(b.get(i + 1), Some(b'"' | b'#')) && !ident_byte(b, i) {
            // Raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(c as char);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == b'"' && (0..hashes).all(|h| b.get(j + 1 + h) == Some(&b'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.extend(
                text[i..j]
                    .chars()
                    .map(|ch| if ch == '\n' { '\n' } else { ' ' }),
            );
            i = j;
        } else if c == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            j = (j + 1).min(b.len());
            out.extend(
                text[i..j]
                    .chars()
                    .map(|ch| if ch == '\n' { '\n' } else { ' ' }),
            );
            i = j;
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a): only the former is skipped.
            let end = if b.get(i + 1) == Some(&b'\\') {
                text[i + 2..].find('\'').map(|k| i + 2 + k + 1)
            } else {
                text[i + 1..]
                    .chars()
                    .next()
                    .map(|ch| i + 1 + ch.len_utf8())
                    .filter(|&k| b.get(k) == Some(&b'\''))
                    .map(|k| k + 1)
            };
            match end {
                Some(e) => {
                    out.extend(std::iter::repeat_n(' ', text[i..e].chars().count()));
                    i = e;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn ident_byte(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// Expands a `use` tree (`a::{b, c::{d, e as f}}`) into paths of segments.
fn expand(tree: &str) -> Vec<Vec<String>> {
    // Drop `as alias` (the alias may carry the `,` or `}` that follows it), then all whitespace.
    let mut toks: Vec<String> = Vec::new();
    let mut alias = false;
    for t in tree.split_whitespace() {
        if alias {
            alias = false;
            toks.push(
                t.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_')
                    .to_owned(),
            );
        } else if t == "as" {
            alias = true;
        } else {
            toks.push(t.to_owned());
        }
    }
    fn go(prefix: &[String], t: &str, out: &mut Vec<Vec<String>>) {
        if let Some(open) = t.find('{') {
            let mut p = prefix.to_vec();
            p.extend(
                t[..open]
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            let inner = &t[open + 1..t.rfind('}').unwrap()];
            let mut depth = 0;
            let mut start = 0;
            for (k, ch) in inner.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        go(&p, &inner[start..k], out);
                        start = k + 1;
                    }
                    _ => {}
                }
            }
            go(&p, &inner[start..], out);
        } else if !t.is_empty() {
            let mut p = prefix.to_vec();
            p.extend(
                t.split("::")
                    .filter(|s| !s.is_empty() && *s != "self" && *s != "*")
                    .map(str::to_owned),
            );
            if !p.is_empty() {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    go(&[], &toks.concat(), &mut out);
    out
}

struct House {
    files: Vec<File>,
    by_module: HashMap<ModPath, usize>,
    /// (module, name) → absolute path of what `pub use` re-exports under that name.
    reexports: HashMap<(ModPath, String), ModPath>,
}

impl House {
    fn absolute(&self, base: &ModPath, segs: &[String]) -> Option<ModPath> {
        let mut p = base.clone();
        let mut rest = segs;
        match segs.first().map(String::as_str) {
            Some("crate") => {
                p.clear();
                rest = &segs[1..];
            }
            Some("self") => rest = &segs[1..],
            Some("super") => {
                while rest.first().map(String::as_str) == Some("super") {
                    p.pop()?;
                    rest = &rest[1..];
                }
            }
            Some(first) => {
                // Relative: only a child module of the base (anything else is std, a crate or a local).
                let mut child = base.clone();
                child.push(first.to_owned());
                if !self.by_module.contains_key(&child) {
                    return None;
                }
            }
            None => return None,
        }
        p.extend(rest.iter().cloned());
        Some(p)
    }

    /// The file that defines what `path` names, following re-exports.
    fn target(&self, path: &ModPath, hops: usize) -> Option<usize> {
        let mut k = path.len();
        while k > 0 && !self.by_module.contains_key(&path[..k]) {
            k -= 1;
        }
        let module = path[..k].to_vec();
        if let (Some(name), true) = (path.get(k), hops < 16) {
            if let Some(to) = self.reexports.get(&(module.clone(), name.clone())) {
                let mut next = to.clone();
                next.extend(path[k + 1..].iter().cloned());
                return self.target(&next, hops + 1);
            }
        }
        self.by_module.get(&module).copied()
    }
}

fn use_statements(code: &str) -> Vec<(usize, bool, String)> {
    let mut out = Vec::new();
    let b = code.as_bytes();
    let mut i = 0;
    while let Some(k) = code[i..].find("use ") {
        let at = i + k;
        i = at + 4;
        if ident_byte(b, at) {
            continue;
        }
        // `pub use` or `pub(crate) use` / `pub(super) use`: the last word before `use`.
        let before = code[..at].trim_end();
        let last = &before[before.rfind(char::is_whitespace).map_or(0, |i| i + 1)..];
        let public = last == "pub" || (last.starts_with("pub(") && last.ends_with(')'));
        let Some(end) = code[at..].find(';') else {
            break;
        };
        out.push((at, public, code[at + 4..at + end].to_owned()));
        i = at + end;
    }
    out
}

fn load() -> House {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    paths.sort();
    let files: Vec<File> = paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).unwrap();
            let code = strip(&text);
            let tests_at = code.find("mod tests {");
            File {
                module: module_of(&src, &path),
                path,
                code,
                tests_at,
            }
        })
        .collect();
    let by_module = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.module.clone(), i))
        .collect();
    let mut house = House {
        files,
        by_module,
        reexports: HashMap::new(),
    };
    let mut reexports = HashMap::new();
    for f in &house.files {
        for (at, public, tree) in use_statements(&f.code) {
            if !public || f.tests_at.is_some_and(|t| at > t) {
                continue;
            }
            for segs in expand(&tree) {
                if let Some(abs) = house.absolute(&f.module, &segs) {
                    let name = abs.last().unwrap().clone();
                    reexports.insert((f.module.clone(), name), abs);
                }
            }
        }
    }
    house.reexports = reexports;
    house
}

fn edges(house: &House) -> BTreeMap<usize, BTreeSet<usize>> {
    let mut out: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for (i, f) in house.files.iter().enumerate() {
        let base_at = |at: usize| {
            let mut m = f.module.clone();
            if f.tests_at.is_some_and(|t| at > t) {
                m.push("tests".into());
            }
            m
        };
        let mut add = |segs: &[String], at: usize| {
            let base = base_at(at);
            if let Some(abs) = house.absolute(&base, segs) {
                if let Some(j) = house.target(&abs, 0) {
                    if j != i {
                        out.entry(i).or_default().insert(j);
                    }
                }
            }
        };
        let mut in_use = Vec::new();
        for (at, _, tree) in use_statements(&f.code) {
            in_use.push((at, at + 4 + tree.len()));
            for segs in expand(&tree) {
                add(&segs, at);
            }
        }
        // Paths in expressions: `crate::a::b`, `super::x`, `self::x`, `child::x`.
        let b = f.code.as_bytes();
        let mut k = 0;
        while k < b.len() {
            if (b[k].is_ascii_alphabetic() || b[k] == b'_') && !ident_byte(b, k) {
                let start = k;
                let mut segs = Vec::new();
                loop {
                    let s = k;
                    while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == b'_') {
                        k += 1;
                    }
                    segs.push(f.code[s..k].to_owned());
                    if f.code[k..].starts_with("::")
                        && b.get(k + 2)
                            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
                    {
                        k += 2;
                    } else {
                        break;
                    }
                }
                let inside_use = in_use.iter().any(|(a, z)| (*a..*z).contains(&start));
                if segs.len() > 1 && !inside_use {
                    add(&segs, start);
                }
            } else {
                k += 1;
            }
        }
    }
    out
}

/// Strongly connected components with more than one file (Tarjan).
fn circles(n: usize, g: &BTreeMap<usize, BTreeSet<usize>>) -> Vec<Vec<usize>> {
    struct T<'a> {
        g: &'a BTreeMap<usize, BTreeSet<usize>>,
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(t: &mut T, v: usize) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        for &w in t.g.get(&v).into_iter().flatten() {
            match t.index[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on[w] = false;
                scc.push(w);
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        g,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v);
        }
    }
    t.out
}

fn name(h: &House, i: usize) -> String {
    let p = &h.files[i].path;
    p.to_string_lossy()
        .split("/src/")
        .last()
        .map(|s| format!("src/{s}"))
        .unwrap()
}

#[test]
fn no_import_circle_among_the_files_of_src() {
    let house = load();
    let g = edges(&house);
    let found: Vec<String> = circles(house.files.len(), &g)
        .into_iter()
        .map(|scc| {
            let members: BTreeSet<usize> = scc.iter().copied().collect();
            let mut lines = Vec::new();
            for &a in &members {
                for &b in g.get(&a).into_iter().flatten() {
                    if members.contains(&b) {
                        lines.push(format!("  {} -> {}", name(&house, a), name(&house, b)));
                    }
                }
            }
            lines.join("\n")
        })
        .collect();
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n\n"));
}

#[test]
fn the_checker_sees_a_circle_when_there_is_one() {
    // The checker itself must be able to fail: the same graph code on a made-up two-file circle.
    let mut g = BTreeMap::new();
    g.insert(0, BTreeSet::from([1]));
    g.insert(1, BTreeSet::from([0]));
    g.insert(2, BTreeSet::from([0]));
    assert_eq!(circles(3, &g).len(), 1);
    // And it reads real edges: the pipeline depends on the route table, through a `use`.
    let house = load();
    let g = edges(&house);
    let find = |m: &str| {
        house
            .files
            .iter()
            .position(|f| f.module.join("::") == m)
            .unwrap()
    };
    assert!(g[&find("gate::pipeline")].contains(&find("gate::route")));
    // A path in an expression counts too, and a re-export is followed to its definition.
    assert!(
        g[&find("config")].contains(&find("gate::verdict")),
        "Mode via crate::gate::Mode"
    );
}

#[test]
fn no_file_in_src_is_over_500_lines_unless_readme_says_why() {
    let house = load();
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut long = Vec::new();
    for (i, f) in house.files.iter().enumerate() {
        let lines = fs::read_to_string(&f.path).unwrap().lines().count();
        let n = name(&house, i);
        match LONG_FILES.iter().find(|(file, _)| *file == n) {
            Some((file, _)) => assert!(readme.contains(file), "README must say why {file} is long"),
            None if lines > MAX_LINES => long.push(format!("{n}: {lines} lines")),
            None => {}
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}
