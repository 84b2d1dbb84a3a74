//! The layers of docs/design.md, checked against the source: which top-level module
//! names which (`crate::x` outside comments and unit-test modules), no cycle among
//! them, and the rules the design states (the store and the domain vocabulary below
//! everything, the scheduler unaware of the application layer, the front ends calling
//! `sweep::`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Top-level module → the top-level modules its code names.
fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut g = Graph::new();
    for p in all {
        let rel = p.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if p.file_name().is_some_and(|f| f == "tests.rs") || module == "main" || module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let code = without_inline_tests(&text);
        let names = g.entry(module.clone()).or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            // `crate::x::…` and `use crate::{x, y::…}`.
            for (i, _) in line.match_indices("crate::") {
                let rest = &line[i + "crate::".len()..];
                let list: Vec<&str> = match rest.strip_prefix('{') {
                    Some(inner) => inner.split('}').next().unwrap_or("").split(',').collect(),
                    None => vec![rest],
                };
                for item in list {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != module && name != "self" {
                        names.insert(name);
                    }
                }
            }
        }
    }
    g
}

/// `text` without its inline unit-test module (`#[cfg(test)] mod tests { … }`, to its
/// matching brace): an out-of-line `mod tests;` cuts nothing (its file, `tests.rs`, is
/// left out above), and whatever follows the module is kept.
fn without_inline_tests(text: &str) -> String {
    let Some(start) = text.find("#[cfg(test)]\nmod tests {") else {
        return text.to_string();
    };
    let open = start + text[start..].find('{').unwrap();
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return format!("{}{}", &text[..start], &text[open + i + 1..]);
                }
            }
            _ => {}
        }
    }
    text[..start].to_string()
}

#[test]
fn an_out_of_line_test_module_hides_nothing() {
    let file = "use crate::a;\n#[cfg(test)]\nmod tests;\n\nfn f() { crate::b::g() }\n";
    assert_eq!(without_inline_tests(file), file);
    let inline = "use crate::a;\n#[cfg(test)]\nmod tests {\n    fn t() { crate::c::h() }\n}\nfn f() { crate::b::g() }\n";
    let kept = without_inline_tests(inline);
    assert!(
        kept.contains("crate::a") && kept.contains("crate::b") && !kept.contains("crate::c"),
        "{kept}"
    );
}

fn reaches(g: &Graph, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(m) = stack.pop() {
        for n in g.get(&m).into_iter().flatten() {
            if n == to {
                return true;
            }
            if seen.insert(n.clone()) {
                stack.push(n.clone());
            }
        }
    }
    false
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let g = graph();
    let cycles: Vec<(String, String)> = g
        .iter()
        .flat_map(|(m, ns)| {
            ns.iter()
                .filter(|n| reaches(&g, n, m))
                .map(move |n| (m.clone(), n.clone()))
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "import cycles (a → b → … → a): {cycles:?}\n{g:#?}"
    );
}

#[test]
fn the_layers_are_as_the_design_says() {
    let g = graph();
    let names = |m: &str| g.get(m).unwrap_or_else(|| panic!("no module {m}")).clone();
    let only = |m: &str, allowed: &[&str]| {
        let extra: Vec<String> = names(m)
            .into_iter()
            .filter(|n| !allowed.contains(&n.as_str()))
            .collect();
        assert!(extra.is_empty(), "{m} names {extra:?}, beyond {allowed:?}");
    };
    // The shared vocabulary and the store sit below everything.
    only("domain", &["score"]);
    only("store", &["config", "domain", "fold", "score"]);
    // Nothing below the application layer knows of it or of a front end.
    for m in g
        .keys()
        .filter(|m| !["cli", "serve", "sweep"].contains(&m.as_str()))
    {
        for upper in ["cli", "serve", "sweep"] {
            assert!(!names(m).contains(upper), "{m} names {upper}");
        }
    }
    // The scheduler and the search strategies reason in the domain's terms; the
    // scheduler's FoldQueue is implemented by the store (sched/queue.rs) and is the one
    // place it names it.
    assert!(!names("search").contains("store"), "search names the store");
    // serve reads through sweep::live (and formats with the leaves).
    only(
        "serve",
        &[
            "domain", "export", "fold", "plots", "rank", "store", "sweep", "text",
        ],
    );
    // cli is named by nobody but the binary.
    for (m, ns) in &g {
        assert!(!ns.contains("cli"), "{m} names cli");
    }
}
