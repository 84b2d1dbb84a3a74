//! Search-space specs: parse, validate, expand, dedupe.
//!
//! A spec is everything needed to reproduce a sweep: its name, the data and how it is
//! split, the CV folds, the seed, values fixed for every configuration, and a grid that
//! is one sub-grid or a list of them (the union of their cartesian products, as
//! scikit-learn's `param_grid` list). Everything is validated before anything runs,
//! with messages naming the sub-grid and the key. Sub-grids often overlap (the study's
//! did); a configuration's identity is the hash of its canonical form, so each distinct
//! configuration runs once, whichever sub-grids produce it.

use crate::data::partition::Partition;
use crate::data::DatasetSpec;
use crate::params::{HyperParams, ParamError, Protocol};
use crate::score::ScoreRule;
use crate::search::Search;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub use crate::config::{config_id, Config};
pub use crate::data::BUILTIN_DEMO;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub dataset: DatasetSpec,
    #[serde(default)]
    pub cv: CvSection,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub fixed: Map<String, Value>,
    pub grid: Grid,
    /// How configurations are scored and ranked (Δacc kind, weights).
    #[serde(default)]
    pub score: ScoreRule,
    /// Which configurations are trained, and how far (grid, random, halving).
    #[serde(default, skip_serializing_if = "is_grid")]
    pub search: Search,
}

fn is_grid(s: &Search) -> bool {
    *s == Search::Grid
}

fn default_seed() -> u64 {
    42
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CvSection {
    #[serde(default = "default_folds")]
    pub folds: usize,
    /// Repeated stratified k-fold: each repeat after the first splits the training part
    /// anew (a seeded shuffle), so a configuration has folds × repeats folds. 1 (the
    /// default, left out of the stored spec) is plain k-fold, today's folds and ids.
    #[serde(default = "default_repeats", skip_serializing_if = "is_one")]
    pub repeats: usize,
    /// `stratified` (`StratifiedKFold`, the default, left out of the stored spec) or
    /// `kfold` (`KFold`, unshuffled: what `GridSearchCV(cv=k)` does with a one-hot `y`).
    #[serde(
        default,
        skip_serializing_if = "crate::data::split::Splitter::is_default"
    )]
    pub splitter: crate::data::split::Splitter,
}

fn default_folds() -> usize {
    3
}

fn default_repeats() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

impl Default for CvSection {
    fn default() -> Self {
        CvSection {
            folds: 3,
            repeats: 1,
            splitter: Default::default(),
        }
    }
}

impl CvSection {
    /// The folds each configuration trains: folds × repeats.
    pub fn total(&self) -> usize {
        self.folds * self.repeats
    }
}

/// One sub-grid (a JSON object) or a list of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Grid {
    One(Map<String, Value>),
    Many(Vec<Map<String, Value>>),
}

impl Grid {
    pub fn subgrids(&self) -> Vec<&Map<String, Value>> {
        match self {
            Grid::One(m) => vec![m],
            Grid::Many(v) => v.iter().collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: PathBuf, message: String },
    #[error("{file}: {place}: {source}")]
    Param {
        file: PathBuf,
        place: String,
        #[source]
        source: ParamError,
    },
    #[error("{file}: {place}: {message}")]
    Invalid {
        file: PathBuf,
        place: String,
        message: String,
    },
    /// Several mistakes, each `place: message`, all said at once.
    #[error("{file}: {} mistakes:\n  {}", .mistakes.len(), .mistakes.join("\n  "))]
    Several {
        file: PathBuf,
        mistakes: Vec<String>,
    },
}

impl SpecError {
    /// The message without the file's name in front (for a list under one name).
    fn without_file(&self) -> String {
        match self {
            SpecError::Param { place, source, .. } => format!("{place}: {source}"),
            SpecError::Invalid { place, message, .. } => format!("{place}: {message}"),
            SpecError::Parse { message, .. } => message.clone(),
            SpecError::Io { source, .. } => source.to_string(),
            SpecError::Several { mistakes, .. } => mistakes.join("; "),
        }
    }
}

/// A JSON error as a sentence: serde's type names in words, the position as a line.
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    // "… at line 11 column 3": the place is said by the caller (or kept as a line).
    let base = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => text.as_str(),
    };
    let base = base
        .replace("floating point `", "the number `")
        .replace("expected u32", "expected a whole number ≥ 0")
        .replace("expected u64", "expected a whole number ≥ 0")
        .replace("expected usize", "expected a whole number ≥ 0")
        .replace("expected f64", "expected a number")
        .replace("integer `", "the number `");
    if e.line() > 0
        && matches!(
            e.classify(),
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof
        )
    {
        format!("line {}, column {}: {base}", e.line(), e.column())
    } else {
        base
    }
}

/// `a.b` with the line of `b` in `text` (keys found in order; without the line when
/// they cannot be found).
pub fn place_with_line(text: &str, path: &[&str]) -> String {
    let mut at = 0usize;
    let mut found = true;
    for key in path {
        let needle = format!("\"{key}\"");
        match text[at..].find(&needle) {
            Some(i) => at += i + needle.len(),
            None => found = false,
        }
    }
    let dotted = path.join(".");
    if found {
        format!("{dotted} (line {})", text[..at].lines().count().max(1))
    } else {
        dotted
    }
}

/// `grid[g].key` with its line in `text`: the key inside the g-th object of the grid's
/// list (or in the grid's one object), where it can be found.
fn grid_place(text: &str, g: usize, key: &str) -> String {
    let place = format!("grid[{g}].{key}");
    let Some(start) = text.find("\"grid\"") else {
        return place;
    };
    // The g-th object at depth 1 of the grid's value (depth 0 when it is one object).
    let (mut depth, mut seen, mut object_at, mut in_str, mut escaped) =
        (0i32, 0usize, None, false, false);
    let mut list = false;
    for (i, c) in text[start + 6..].char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '[' if depth == 0 => {
                list = true;
                depth += 1;
            }
            '{' => {
                if (list && depth == 1) || (!list && depth == 0) {
                    if seen == g {
                        object_at = Some(start + 6 + i);
                        break;
                    }
                    seen += 1;
                }
                depth += 1;
            }
            '[' => depth += 1,
            ']' | '}' => {
                depth -= 1;
                if depth <= 0 && (list || c == '}') {
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(at) = object_at else {
        return place;
    };
    match text[at..].find(&format!("\"{key}\"")) {
        Some(i) => format!(
            "{place} (line {})",
            text[..at + i + 1].lines().count().max(1)
        ),
        None => place,
    }
}

/// The expanded grid.
#[derive(Debug, Clone)]
pub struct Expansion {
    /// Distinct configurations, in the order they first appear.
    pub configs: Vec<Config>,
    /// The sub-grid (0-based) that first produced each of `configs`: a stratified
    /// sample's strata.
    pub subgrid: Vec<usize>,
    /// Combinations produced by all sub-grids, before removing duplicates.
    pub generated: usize,
    /// Keys that appear in any sub-grid (scikit-learn's `param_<name>` columns).
    pub grid_keys: Vec<String>,
}

impl Expansion {
    pub fn duplicates(&self) -> usize {
        self.generated - self.configs.len()
    }

    /// Distinct trainings: configurations that train the same network count once.
    pub fn trainings(&self) -> usize {
        self.configs
            .iter()
            .map(|c| &c.training_key)
            .collect::<HashSet<_>>()
            .len()
    }
}

impl Spec {
    /// The sub-grids (0-based) whose rows include a configuration with these canonical
    /// hyperparameters: for each key a sub-grid lists, the configuration's value is one
    /// of the listed values (compared in canonical form; a key that does not apply to
    /// the configuration, such as the weight constraint under the notebook protocol, is
    /// not compared, nor are the keys in `unstated`: what results made elsewhere did
    /// not record). Sub-grids overlap: a configuration may be in several, or, for
    /// results made elsewhere, in none.
    pub fn subgrids_of(&self, params: &Map<String, Value>, unstated: &[&str]) -> Vec<usize> {
        let canonical = |key: &str, v: &Value| -> Option<Value> {
            let mut p = HyperParams::default();
            let one: Map<String, Value> = std::iter::once((key.to_string(), v.clone())).collect();
            p.apply_object(&one).ok()?;
            p.canonical()
                .get(key)
                .cloned()
                .or_else(|| crate::params::omitted_default(key).map(Value::from))
        };
        self.grid
            .subgrids()
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                g.iter().all(|(key, listed)| {
                    if unstated.contains(&key.as_str()) {
                        return true;
                    }
                    if key == "split" {
                        return true; // compared below, also where the sub-grid does not list it
                    }
                    let Some(have) = params
                        .get(key)
                        .cloned()
                        .or_else(|| crate::params::omitted_default(key).map(Value::from))
                    else {
                        return true;
                    };
                    let listed: Vec<&Value> = match listed {
                        Value::Array(a) => a.iter().collect(),
                        one => vec![one],
                    };
                    let listed: Vec<Value> =
                        listed.iter().filter_map(|v| canonical(key, v)).collect();
                    // A key the canonical form names otherwise is not compared.
                    listed.is_empty() || listed.contains(&have)
                }) && self.partition_listed(g, params)
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Whether a configuration's partition (its `split`; absent: the spec's own) is one
    /// sub-grid `g` gives its rows: its own `split`, else `fixed`'s, else the spec's.
    fn partition_listed(&self, g: &Map<String, Value>, params: &Map<String, Value>) -> bool {
        let have = params.get("split").cloned().unwrap_or(Value::Null);
        let listed = match g.get("split").or_else(|| self.fixed.get("split")) {
            Some(Value::Array(a)) => a.clone(),
            Some(one) => vec![one.clone()],
            None => vec![Value::Null],
        };
        listed.iter().any(|v| match v {
            Value::Null => have.is_null(),
            v => Partition::from_stored(v).is_ok_and(|p| p.to_value() == have),
        })
    }

    /// Reads and validates a spec file; relative dataset paths resolve against the
    /// spec's folder.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        let mut spec = Spec::parse(&text, path)?;
        if spec.dataset.path.as_os_str() != BUILTIN_DEMO && spec.dataset.path.is_relative() {
            let base = path.parent().unwrap_or(Path::new("."));
            spec.dataset.path = base.join(&spec.dataset.path);
        }
        Ok(spec)
    }

    /// Parses and validates spec text; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Spec, SpecError> {
        if text.trim().is_empty() {
            return Err(SpecError::Parse {
                file: file.to_path_buf(),
                message: "empty file: a spec is a JSON object with a name, a dataset and a grid (search-spaces/quick.json is one)".into(),
            });
        }
        let parse_error = |e: serde_json::Error| SpecError::Parse {
            file: file.to_path_buf(),
            message: json_error(&e),
        };
        // The search section first, as written: its mistakes are named by key.
        let value: Value = serde_json::from_str(text).map_err(parse_error)?;
        if let Some(search) = value.get("search") {
            crate::search::check_json(search).map_err(|(key, message)| {
                let path: Vec<&str> = std::iter::once("search")
                    .chain((!key.is_empty()).then_some(key.as_str()))
                    .collect();
                SpecError::Invalid {
                    file: file.to_path_buf(),
                    place: place_with_line(text, &path),
                    message,
                }
            })?;
        }
        // Then the whole spec, with the path of whatever does not fit.
        let de = &mut serde_json::Deserializer::from_str(text);
        let spec: Spec = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = json_error(&inner);
            if path.is_empty() || path == "." {
                SpecError::Parse {
                    file: file.to_path_buf(),
                    message,
                }
            } else {
                SpecError::Invalid {
                    file: file.to_path_buf(),
                    place: format!("{path} (line {})", inner.line()),
                    message,
                }
            }
        })?;
        let mut spec = spec;
        let split_mistakes = spec.resolve_splits(file, text);
        spec.validate(file, text, split_mistakes)?;
        Ok(spec)
    }

    /// The partition of the spec's own `dataset` and `cv` sections.
    pub fn partition(&self) -> Partition {
        Partition::of(&self.dataset, self.cv.splitter)
    }

    /// Resolves every `"split"` (in `fixed` and in each sub-grid; an object, or a list of
    /// them in a sub-grid) into full partitions over the spec's own, a list in a
    /// sub-grid, `null` where it comes out as the spec's own (so that such a
    /// configuration keeps its id). Resolving a resolved spec changes nothing, so a
    /// stored spec reads back as it was. Returns the mistakes, each naming its place.
    fn resolve_splits(&mut self, file: &Path, text: &str) -> Vec<SpecError> {
        let base = self.partition();
        let mut mistakes = Vec::new();
        let mut resolve = |place: String, v: &Value| -> Value {
            if v.is_null() {
                return Value::Null;
            }
            match Partition::over(&base, v) {
                Ok(p) if p == base => Value::Null,
                Ok(p) => p.to_value(),
                Err((key, message)) => {
                    let place = if key.is_empty() {
                        place
                    } else {
                        format!("{place}.{key}")
                    };
                    mistakes.push(SpecError::Invalid {
                        file: file.to_path_buf(),
                        place,
                        message,
                    });
                    // Said once: the spec's own partition stands in for the rest of the checks.
                    Value::Null
                }
            }
        };
        if let Some(v) = self.fixed.get("split").cloned() {
            let r = resolve(place_with_line(text, &["fixed", "split"]), &v);
            self.fixed.insert("split".into(), r);
        }
        let subgrids: Vec<&mut Map<String, Value>> = match &mut self.grid {
            Grid::One(m) => vec![m],
            Grid::Many(v) => v.iter_mut().collect(),
        };
        for (i, g) in subgrids.into_iter().enumerate() {
            let Some(v) = g.get("split").cloned() else {
                continue;
            };
            let listed = match v {
                Value::Array(list) => list,
                one => vec![one],
            };
            let resolved: Vec<Value> = listed
                .iter()
                .map(|v| resolve(format!("grid[{i}].split"), v))
                .collect();
            g.insert("split".into(), Value::Array(resolved));
        }
        mistakes
    }

    /// Checks everything serde's types do not, and says every mistake at once (each
    /// with its key and, where it can be found, its line), so that a spec is mended in
    /// one go.
    fn validate(
        &self,
        file: &Path,
        text: &str,
        mut mistakes: Vec<SpecError>,
    ) -> Result<(), SpecError> {
        let invalid = |place: &str, message: String| SpecError::Invalid {
            file: file.to_path_buf(),
            place: place.to_string(),
            message,
        };
        let param = |place: String, source: ParamError| SpecError::Param {
            file: file.to_path_buf(),
            place,
            source,
        };
        if self.name.trim().is_empty() {
            mistakes.push(invalid("name", "must not be empty".into()));
        }
        for (key, v) in [
            ("test_fraction", self.dataset.test_fraction),
            ("validation_fraction", self.dataset.validation_fraction),
        ] {
            if !(v > 0.0 && v < 1.0) {
                mistakes.push(invalid(
                    &place_with_line(text, &["dataset", key]),
                    format!("{v}: expected a fraction in (0, 1)"),
                ));
            }
        }
        if self.cv.folds < 2 {
            mistakes.push(invalid(
                &place_with_line(text, &["cv", "folds"]),
                format!("{}: expected at least 2", self.cv.folds),
            ));
        }
        if self.cv.repeats < 1 {
            mistakes.push(invalid(
                &place_with_line(text, &["cv", "repeats"]),
                format!("{}: expected at least 1", self.cv.repeats),
            ));
        }
        if let Err(m) = self.score.check() {
            mistakes.push(invalid("score", m));
        }
        if let Err(m) = self.search.check() {
            mistakes.push(invalid("search", m));
        }
        // Each fixed key on its own, so that every bad one is named.
        let mut base = HyperParams::default();
        for (key, v) in &self.fixed {
            if let Err(source) = base.set(key, v) {
                mistakes.push(param(place_with_line(text, &["fixed", key]), source));
            }
        }
        let subgrids = self.grid.subgrids();
        if subgrids.is_empty() {
            mistakes.push(invalid(
                "grid",
                "an empty list: give at least one sub-grid".into(),
            ));
        }
        for (i, g) in subgrids.iter().enumerate() {
            let before = mistakes.len();
            for (key, values) in g.iter() {
                let place = grid_place(text, i, key);
                let Some(list) = values.as_array() else {
                    mistakes.push(invalid(
                        &place,
                        format!("expected a list of values, got {values}"),
                    ));
                    continue;
                };
                if list.is_empty() {
                    mistakes.push(invalid(
                        &place,
                        "an empty list: give at least one value".into(),
                    ));
                }
                // One mistake per key: the first value it refuses.
                if let Some(source) = list.iter().find_map(|v| base.clone().set(key, v).err()) {
                    mistakes.push(param(place.clone(), source));
                }
            }
            if mistakes.len() == before {
                if let Err(source) = self.check_protocols(g) {
                    mistakes.push(param(format!("grid[{i}]"), source));
                }
            }
        }
        match mistakes.len() {
            0 => Ok(()),
            1 => Err(mistakes.remove(0)),
            _ => Err(SpecError::Several {
                file: file.to_path_buf(),
                mistakes: mistakes.iter().map(SpecError::without_file).collect(),
            }),
        }
    }

    /// A sub-grid (over `fixed`) whose rows include the notebook protocol must not give
    /// the keys that protocol does not use a value that would matter. Every
    /// combination of a sub-grid is a row, so looking at each key's values is exact.
    fn check_protocols(&self, g: &Map<String, Value>) -> Result<(), ParamError> {
        let values = |k: &str| -> Vec<&Value> {
            match g.get(k).or_else(|| self.fixed.get(k)) {
                Some(Value::Array(list)) if g.contains_key(k) => list.iter().collect(),
                Some(v) => vec![v],
                None => vec![],
            }
        };
        let notebook = values("protocol")
            .into_iter()
            .any(|v| v.as_str().and_then(Protocol::parse) == Some(Protocol::Notebook));
        if !notebook {
            return Ok(());
        }
        let p = HyperParams {
            protocol: Protocol::Notebook,
            ..HyperParams::default()
        };
        for k in crate::params::NOT_UNDER_NOTEBOOK {
            for v in values(k) {
                p.check_protocol([(k, v)])?;
            }
        }
        Ok(())
    }

    /// Expands the grid into distinct configurations (fixed values under each).
    pub fn expand(&self) -> Result<Expansion, ParamError> {
        let mut base = HyperParams::default();
        base.apply_object(&self.fixed)?;
        let mut seen = HashSet::new();
        let mut configs = Vec::new();
        let mut subgrid = Vec::new();
        let mut generated = 0;
        // In scikit-learn's order: each sub-grid's keys sorted (its `ParameterGrid`),
        // the sub-grids' new ones after those met before.
        let mut grid_keys: Vec<String> = Vec::new();
        for (gi, g) in self.grid.subgrids().into_iter().enumerate() {
            let keys: Vec<(&String, &Vec<Value>)> = g
                .iter()
                .map(|(k, v)| (k, v.as_array().expect("validated")))
                .collect();
            let mut sorted: Vec<&String> = keys.iter().map(|(k, _)| *k).collect();
            sorted.sort();
            for k in sorted {
                if !grid_keys.contains(k) {
                    grid_keys.push(k.clone());
                }
            }
            let total: usize = keys.iter().map(|(_, v)| v.len()).product();
            for n in 0..total {
                // Mixed-radix counter, last key fastest (as scikit-learn's ParameterGrid).
                let mut p = base.clone();
                let mut rest = n;
                let mut chosen = Vec::with_capacity(keys.len());
                for (k, values) in keys.iter().rev() {
                    let v = &values[rest % values.len()];
                    p.set(k, v)?;
                    chosen.push((k.as_str(), v));
                    rest /= values.len();
                }
                let fixed = self
                    .fixed
                    .iter()
                    .filter(|(k, _)| !g.contains_key(*k))
                    .map(|(k, v)| (k.as_str(), v));
                p.check_protocol(fixed.chain(chosen))?;
                generated += 1;
                let c = Config::new(p);
                if seen.insert(c.id.clone()) {
                    configs.push(c);
                    subgrid.push(gi);
                }
            }
        }
        Ok(Expansion {
            configs,
            subgrid,
            generated,
            grid_keys,
        })
    }
}

/// Object keys that appear twice in one JSON object of `text`, as `path.key` (JSON
/// keeps the last silently).
fn duplicate_keys(text: &str) -> Vec<String> {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    struct Walk<'a> {
        path: String,
        found: &'a std::cell::RefCell<Vec<String>>,
    }
    impl<'de> DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            while seq
                .next_element_seed(Walk {
                    path: format!("{}[{i}]", self.path),
                    found: self.found,
                })?
                .is_some()
            {
                i += 1;
            }
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(k) = map.next_key::<String>()? {
                let path = if self.path.is_empty() {
                    k.clone()
                } else {
                    format!("{}.{k}", self.path)
                };
                if !seen.insert(k) {
                    self.found.borrow_mut().push(path.clone());
                }
                map.next_value_seed(Walk {
                    path,
                    found: self.found,
                })?;
            }
            Ok(())
        }
    }
    let found = std::cell::RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_str(text);
    let _ = Walk {
        path: String::new(),
        found: &found,
    }
    .deserialize(&mut de);
    found.into_inner()
}

impl Spec {
    /// What a spec states that is likely a mistake, though it runs: each a sentence
    /// naming the key (with its line in `text` where it can be found).
    pub fn warnings(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for key in duplicate_keys(text) {
            out.push(format!(
                "`{key}` is given twice in one object: JSON keeps the last one only"
            ));
        }
        if self.name.contains(std::path::MAIN_SEPARATOR) || self.name.contains('/') {
            out.push(format!(
                "name {:?} has a path separator: it becomes part of file and folder names (reports, models), where it makes folders",
                self.name
            ));
        }
        let subgrids = self.grid.subgrids();
        // A fixed key that every sub-grid sets again is never used (a sub-grid's own
        // value over a fixed default is how sub-grids differ; `split` too).
        for k in self.fixed.keys().filter(|k| *k != "split") {
            if !subgrids.is_empty() && subgrids.iter().all(|g| g.contains_key(k)) {
                out.push(format!(
                    "{} is set by every sub-grid too: the fixed value is never trained",
                    place_with_line(text, &["fixed", k])
                ));
            }
        }
        // A number written as text ("0.2") is read as the number: say so.
        let defaults = crate::params::HyperParams::default().canonical();
        let mut as_text = |place: String, k: &str, v: &Value| {
            let numeric = defaults.get(k).is_some_and(Value::is_number);
            if let Some(s) = v
                .as_str()
                .filter(|s| numeric && s.trim().parse::<f64>().is_ok())
            {
                out.push(format!(
                    "{place}: `{k}` {s:?} is text, read as the number {s}; write it without quotes"
                ));
            }
        };
        for (k, v) in &self.fixed {
            as_text("fixed".into(), k, v);
        }
        for (g, sub) in subgrids.iter().enumerate() {
            for (k, v) in sub.iter() {
                for x in v.as_array().map_or(std::slice::from_ref(v), Vec::as_slice) {
                    as_text(format!("grid[{g}]"), k, x);
                }
            }
        }
        let folds = self.cv.folds * self.cv.repeats;
        if let Some(r) = self.search.race() {
            if let Some(m) = r.max_repeats.filter(|&m| m as usize > self.cv.repeats) {
                out.push(format!(
                    "search.max_repeats {m} is above cv.repeats {}: the race uses at most the {} repeats the spec has",
                    self.cv.repeats, self.cv.repeats
                ));
            }
            if r.min_folds as usize > folds {
                out.push(format!(
                    "search.min_folds {} is above the {folds} folds of the cross-validation (cv.folds × cv.repeats): the race starts with all of them, and drops nothing before",
                    r.min_folds
                ));
            }
        }
        if let Some(n) = self.search.sample_size() {
            if let Ok(e) = self.expand() {
                let trainings = e.trainings();
                if n > trainings {
                    out.push(format!(
                        "the search samples {n}, more than the grid's {trainings} distinct trainings: it takes them all"
                    ));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Spec, SpecError> {
        Spec::parse(text, Path::new("t.json"))
    }

    #[test]
    fn union_of_subgrids_with_duplicates_removed() {
        let s = parse(
            r#"{"name": "t", "dataset": {"path": "builtin:demo"},
                "grid": [{"optimizer": ["adam", "nadam"], "dropout": [0.1, 0.4]},
                         {"optimizer": ["Nadam"], "dropout": [0.40, 0.5]}]}"#,
        )
        .unwrap();
        let e = s.expand().unwrap();
        assert_eq!(e.generated, 6);
        assert_eq!(e.configs.len(), 5);
        assert_eq!(e.duplicates(), 1);
        assert_eq!(e.grid_keys, vec!["dropout", "optimizer"]);
        assert_eq!(e.configs[0].id.len(), 12);
    }

    #[test]
    fn errors_name_the_subgrid_and_key() {
        let e =
            parse(r#"{"name": "t", "dataset": {"path": "x"}, "grid": [{}, {"dropuot": [0.1]}]}"#)
                .unwrap_err()
                .to_string();
        assert!(
            e.contains("grid[1].dropuot (line 1)") && e.contains("did you mean `dropout`"),
            "{e}"
        );
        let e = parse(r#"{"name": "t", "dataset": {"path": "x"}, "grid": {"dropout": []}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("grid[0].dropout") && e.contains("empty list"),
            "{e}"
        );
        let e = parse(r#"{"name": "t", "dataset": {"path": "x"}, "grid": {"dropout": 0.2}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected a list"), "{e}");
        let e = parse(r#"{"name": "t", "dataset": {"path": "x"}, "grid": {"dropout": [1.5]}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[0, 1)"), "{e}");
        let e =
            parse(r#"{"name": "t", "dataset": {"path": "x"}, "grid": {"batch_size": ["big"]}}"#)
                .unwrap_err()
                .to_string();
        assert!(e.contains("batch_size") && e.contains("integer"), "{e}");
        let e = parse(r#"{"name": "t", "dataset": {"path": "x", "lable": "G"}, "grid": {}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `lable`"), "{e}");
    }

    #[test]
    fn notebook_rows_refuse_keys_it_does_not_use() {
        let e = parse(
            r#"{"name": "t", "dataset": {"path": "x"}, "fixed": {"weight_constraint": 3},
                "grid": [{"protocol": ["gridsearchcv"]}, {"protocol": ["notebook"], "dropout": [0.2]}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("grid[1]")
                && e.contains("`weight_constraint` does not apply under protocol notebook"),
            "{e}"
        );
        let e = parse(r#"{"name": "t", "dataset": {"path": "x"}, "grid": {"protocol": ["notebook", "gridsearchcv"], "monitor": ["val_loss"]}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("grid[0]") && e.contains("`monitor`"), "{e}");
        // A sub-grid that sets the constraint to 0, or one without notebook rows, is fine.
        let s = parse(
            r#"{"name": "t", "dataset": {"path": "x"}, "fixed": {"weight_constraint": 3},
                "grid": [{"protocol": ["gridsearchcv"]}, {"protocol": ["notebook"], "weight_constraint": [0]}]}"#,
        )
        .unwrap();
        let e = s.expand().unwrap();
        assert_eq!(e.configs.len(), 2);
        assert_eq!(e.configs[1].params.protocol, Protocol::Notebook);
        assert!(
            !e.configs[1].canonical_json.contains("weight_constraint"),
            "{}",
            e.configs[1].canonical_json
        );
    }

    #[test]
    fn score_section_is_validated() {
        let s = parse(r#"{"name": "t", "dataset": {"path": "x"}, "grid": {}, "score": {"delta": "relative"}}"#).unwrap();
        assert_eq!(s.score.delta, crate::score::DeltaKind::Relative);
        let e =
            parse(r#"{"name": "t", "dataset": {"path": "x"}, "grid": {}, "score": {"w1": -1}}"#)
                .unwrap_err()
                .to_string();
        assert!(e.contains("score") && e.contains("w1 = -1"), "{e}");
        let e = parse(
            r#"{"name": "t", "dataset": {"path": "x"}, "grid": {}, "score": {"delta": "ratio"}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("ratio"), "{e}");
    }

    #[test]
    fn every_mistake_is_said_at_once_with_its_key_and_line() {
        let text = "{\"name\": \"t\",\n \"dataset\": {\"path\": \"x\", \"test_fraction\": 1.5},\n \"fixed\": {\"batch_size\": 0,\n  \"learning_rate\": -1},\n \"grid\": {\"dropout\": [0.2, 2]}}";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.starts_with("t.json: 4 mistakes:"), "{e}");
        for part in [
            "dataset.test_fraction (line 2): 1.5: expected a fraction in (0, 1)",
            "fixed.batch_size (line 3)",
            "fixed.learning_rate (line 4)",
            "grid[0].dropout (line 5)",
        ] {
            assert!(e.contains(part), "{part}: {e}");
        }
        // One mistake: said alone, as before.
        let e = parse(
            r#"{"name": "t", "dataset": {"path": "x", "validation_fraction": 0}, "grid": {}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("t.json: dataset.validation_fraction (line 1): 0: expected a fraction"),
            "{e}"
        );
        // An empty file is named as empty.
        for empty in ["", "  \n"] {
            let e = parse(empty).unwrap_err().to_string();
            assert!(e.contains("t.json: empty file"), "{e}");
        }
    }

    #[test]
    fn empty_subgrid_is_one_configuration() {
        let s =
            parse(r#"{"name": "t", "dataset": {"path": "x"}, "fixed": {"epochs": 5}, "grid": {}}"#)
                .unwrap();
        let e = s.expand().unwrap();
        assert_eq!(e.configs.len(), 1);
        assert_eq!(e.configs[0].params.epochs, 5);
    }
}
