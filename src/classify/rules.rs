//! Rules as data: the TOML rule format, its validation, and the compiled rule set.
//!
//! A rule file is a list of `[[rule]]` tables. Each rule names the conditions it needs (any of
//! `provider`, `stage`, `reply`, `codes`, `text`; all given conditions must hold, and within a
//! list any entry may match) and the verdict it gives (`category`, optionally `permanence`,
//! `fault`, `action` and an `advice` sentence). The built-in rules (`rules.toml` beside this
//! file) are compiled into the binary; a user file given with `--rules` adds rules, and a user
//! rule with the id of a built-in one replaces it.
//!
//! Precedence does not depend on where a rule sits in the file but on what it looks at, so a
//! user rule lands in the right place without knowing the built-ins: provider rules first, then
//! text rules, specific enhanced codes, weak text rules (vague phrases such as "access
//! denied"), stage rules (a refusal before RCPT), generic codes (`X.0.0`, `X.Y.0`) and finally
//! bare reply codes. Within one tier, user rules come before built-ins and
//! otherwise file order decides.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::syntax;
use regex_automata::{Input, meta};
use regex_syntax::hir::Hir;
use serde::Deserialize;

use super::{Action, Category, Fault, Permanence, Provider};
use crate::event::{EnhancedCode, Stage};

/// The built-in rules, compiled into the binary.
pub const BUILTIN_RULES: &str = include_str!("rules.toml");

/// Why a rule set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error("cannot read rules file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("rules file {origin} is not valid: {source}")]
    Parse {
        origin: String,
        source: Box<toml::de::Error>,
    },
    #[error("rules file {origin}, rule {id:?}: {message}")]
    Invalid {
        origin: String,
        id: String,
        message: String,
    },
}

/// A rule file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

/// One rule as written in TOML. See the module docs and `docs/classifier.md`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    /// `google`, `microsoft`, `yahoo`, `apple`, ... (see [`Provider::as_str`]).
    #[serde(default)]
    pub provider: Option<String>,
    /// SMTP stages: `connect`, `greeting`, `ehlo`, `starttls`, `auth`, `mail`, `rcpt`, `data`,
    /// `end_of_data` (and the phrases logs use, such as `RCPT TO`).
    #[serde(default)]
    pub stage: Vec<String>,
    /// Reply codes: `550`, `5xx`, `55x`, or a range `500-504`.
    #[serde(default)]
    pub reply: Vec<String>,
    /// Enhanced codes: `5.1.1`, `x.7.26` (either class), `5.7.*`, `5.7.606-649`.
    #[serde(default)]
    pub codes: Vec<String>,
    /// Case-insensitive regular expressions over the normalised reply text.
    #[serde(default)]
    pub text: Vec<String>,
    pub category: String,
    #[serde(default)]
    pub permanence: Option<String>,
    #[serde(default)]
    pub fault: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub advice: Option<String>,
    /// A text rule whose phrases are too vague to overrule a specific enhanced code ("access
    /// denied", "try again later"): it ranks after specific codes.
    #[serde(default)]
    pub weak: bool,
}

/// An enhanced-code pattern: class (or any), subject (or any), detail range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CodePattern {
    class: Option<u8>,
    subject: Option<u16>,
    detail: (u16, u16),
}

impl CodePattern {
    fn parse(text: &str) -> Option<CodePattern> {
        let mut parts = text.trim().split('.');
        let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let class = match class {
            "x" | "X" | "*" => None,
            "2" => Some(2),
            "4" => Some(4),
            "5" => Some(5),
            _ => return None,
        };
        let subject = match subject {
            "*" | "x" => None,
            s => Some(parse_number(s)?),
        };
        let detail = match detail {
            "*" | "x" => (0, u16::MAX),
            d => match d.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (parse_number(lo)?, parse_number(hi)?);
                    if lo > hi {
                        return None;
                    }
                    (lo, hi)
                }
                None => {
                    let d = parse_number(d)?;
                    (d, d)
                }
            },
        };
        if subject.is_none() && detail != (0, u16::MAX) {
            return None;
        }
        Some(CodePattern {
            class,
            subject,
            detail,
        })
    }

    fn matches(&self, code: EnhancedCode) -> bool {
        self.class.is_none_or(|c| c == code.class)
            && self.subject.is_none_or(|s| s == code.subject)
            && (self.detail.0..=self.detail.1).contains(&code.detail)
    }

    /// `X.0.0`, `X.Y.0` and wildcards say little; a named detail code says much.
    fn is_specific(&self) -> bool {
        self.subject.is_some() && self.detail != (0, 0) && self.detail != (0, u16::MAX)
    }
}

fn parse_number(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A reply-code pattern as an inclusive range.
fn parse_reply(text: &str) -> Option<(u16, u16)> {
    let t = text.trim().to_ascii_lowercase();
    if let Some((lo, hi)) = t.split_once('-') {
        let (lo, hi) = (parse_reply_code(lo)?, parse_reply_code(hi)?);
        return (lo <= hi).then_some((lo, hi));
    }
    if t.len() == 3 && t.ends_with("xx") {
        let c = parse_reply_code(&format!("{}00", &t[..1]))?;
        return Some((c, c + 99));
    }
    if t.len() == 3 && t.ends_with('x') {
        let c = parse_reply_code(&format!("{}0", &t[..2]))?;
        return Some((c, c + 9));
    }
    let c = parse_reply_code(&t)?;
    Some((c, c))
}

fn parse_reply_code(s: &str) -> Option<u16> {
    let c = parse_number(s)?;
    (200..=599).contains(&c).then_some(c)
}

/// Precedence tiers, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tier {
    Provider,
    Text,
    SpecificCode,
    WeakText,
    Stage,
    GenericCode,
    ReplyCode,
    CatchAll,
}

impl Tier {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Tier::Provider => "provider",
            Tier::Text => "text",
            Tier::Stage => "stage",
            Tier::SpecificCode => "specific enhanced code",
            Tier::WeakText => "weak text",
            Tier::GenericCode => "generic enhanced code",
            Tier::ReplyCode => "reply code",
            Tier::CatchAll => "catch-all",
        }
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub id: &'static str,
    pub provider: Option<Provider>,
    /// Bit `1 << stage_index`; 0 means any stage.
    pub stages: u16,
    pub replies: Vec<(u16, u16)>,
    pub codes: Vec<CodePattern>,
    /// The rule's patterns among all rules' patterns (see `TextMatcher`).
    pub text: Range<usize>,
    pub category: Category,
    pub permanence: Option<Permanence>,
    pub fault: Option<Fault>,
    pub action: Option<Action>,
    pub advice: Option<Box<str>>,
    pub tier: Tier,
    pub user: bool,
}

/// What a rule is matched against: the input with codes resolved and the text normalised.
pub(crate) struct Facts<'a> {
    pub provider: Provider,
    pub stage: Option<Stage>,
    pub reply_code: Option<u16>,
    pub code: Option<EnhancedCode>,
    /// Per text pattern (indexed like [`Rule::text`]), whether it matched.
    pub text_matches: &'a [bool],
}

impl Rule {
    pub(crate) fn matches(&self, facts: &Facts<'_>) -> bool {
        if self.provider.is_some_and(|p| p != facts.provider) {
            return false;
        }
        if self.stages != 0 && facts.stage.is_none_or(|s| self.stages & stage_bit(s) == 0) {
            return false;
        }
        if !self.replies.is_empty()
            && !facts
                .reply_code
                .is_some_and(|c| self.replies.iter().any(|&(lo, hi)| (lo..=hi).contains(&c)))
        {
            return false;
        }
        if !self.codes.is_empty()
            && !facts
                .code
                .is_some_and(|c| self.codes.iter().any(|p| p.matches(c)))
        {
            return false;
        }
        if !self.text.is_empty() && !self.text.clone().any(|i| facts.text_matches[i]) {
            return false;
        }
        true
    }
}

pub(crate) fn stage_bit(stage: Stage) -> u16 {
    1 << (stage as u16)
}

/// A compiled, ordered rule set with its text matcher.
#[derive(Debug)]
pub(crate) struct RuleSet {
    pub rules: Vec<Rule>,
    /// All rules' text patterns, in rule-file order (a rule's `text` range indexes them).
    patterns: Vec<String>,
    /// The compiled patterns, built on first use: a run that classifies no failure (or only
    /// replies already cached) never pays for it.
    text: OnceLock<TextMatcher>,
    pub by_id: HashMap<&'static str, usize>,
}

impl RuleSet {
    /// The compiled text patterns (compiled now if this is the first call).
    pub(crate) fn text(&self) -> &TextMatcher {
        self.text.get_or_init(|| {
            TextMatcher::new(&self.patterns, false).expect("built-in text patterns compile")
        })
    }

    /// Whether the text patterns have been compiled yet.
    #[cfg(test)]
    pub(crate) fn text_is_built(&self) -> bool {
        self.text.get().is_some()
    }
}

/// A rule source: its name for messages, its text, and whether it is the user's.
pub(crate) struct Source<'a> {
    pub origin: &'a str,
    pub toml: &'a str,
    pub user: bool,
}

/// Parses one rule file.
pub(crate) fn parse_specs(origin: &str, toml_text: &str) -> Result<Vec<RuleSpec>, ClassifyError> {
    let file: RuleFile = toml::from_str(toml_text).map_err(|e| ClassifyError::Parse {
        origin: origin.to_owned(),
        source: Box::new(e),
    })?;
    Ok(file.rule)
}

/// Compiles rule sources into one rule set. Later sources override earlier ones by id.
pub(crate) fn compile(sources: &[Source<'_>]) -> Result<RuleSet, ClassifyError> {
    // (spec, origin, user) in file order, with overrides replacing in place.
    let mut specs: Vec<(RuleSpec, String, bool)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for source in sources {
        let mut seen_here = HashSet::new();
        for spec in parse_specs(source.origin, source.toml)? {
            if !seen_here.insert(spec.id.clone()) {
                return Err(invalid(source.origin, &spec.id, "duplicate rule id"));
            }
            match index.get(&spec.id) {
                Some(&at) => specs[at] = (spec, source.origin.to_owned(), source.user),
                None => {
                    index.insert(spec.id.clone(), specs.len());
                    specs.push((spec, source.origin.to_owned(), source.user));
                }
            }
        }
    }

    let mut patterns: Vec<String> = Vec::new();
    // The rule (index into `specs`) each pattern belongs to.
    let mut owners: Vec<usize> = Vec::new();
    let mut rules = Vec::with_capacity(specs.len());
    for (at, (spec, origin, user)) in specs.iter().enumerate() {
        let start = patterns.len();
        patterns.extend(spec.text.iter().cloned());
        owners.resize(patterns.len(), at);
        rules.push(compile_rule(spec, origin, *user, start..patterns.len())?);
    }
    // Built-in patterns are checked by the test suite and compiled when first needed; a user's
    // file is checked now, so that a bad pattern is reported, with its rule, when the rules are
    // loaded.
    let text = OnceLock::new();
    if sources.iter().any(|s| s.user) {
        let set = TextMatcher::new(&patterns, true).map_err(|(pattern, error)| {
            let (spec, origin, _) = &specs[owners[pattern]];
            invalid(
                origin,
                &spec.id,
                &format!("text pattern {:?}: {error}", patterns[pattern]),
            )
        })?;
        text.get_or_init(|| set);
    }

    // Stable sort: tier, then user rules first, then file order.
    let mut order: Vec<usize> = (0..rules.len()).collect();
    order.sort_by_key(|&i| (rules[i].tier, !rules[i].user, i));
    let rules: Vec<Rule> = order.into_iter().map(|i| rules[i].clone()).collect();
    let by_id = rules.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    Ok(RuleSet {
        rules,
        patterns,
        text,
        by_id,
    })
}

/// All text patterns, compiled to be matched against case-folded text
/// ([`super::normalize::fold_case`]).
///
/// Rules promise case-insensitive patterns. Unicode case folding turns every letter into a
/// class (`[sSſ]`), which multiplies the literal alternatives a regex engine extracts and made
/// building the built-in patterns cost about 0.1 s of CPU per run. The haystack is case-folded
/// instead, so a pattern written in lowercase ASCII means the same without the flag; only
/// patterns that could see a difference (see [`needs_case_folding`]) keep `(?i)`.
///
/// One aho-corasick pass over the text does most of the work. It finds the patterns that are
/// plain phrases (a lowercase ASCII pattern without regex syntax matches exactly where its text
/// occurs), and the literals that every match of a regex must begin with. Only the regexes
/// whose literals were found, and those without such literals, are then run, each on its own.
/// One set of all the regexes, searched for every pattern at once, cost about half a million
/// instructions per text: a lazy DFA over some 180 unanchored patterns builds new states for
/// almost every distinct reply, and a day of real replies has thousands of distinct ones.
#[derive(Debug)]
pub(crate) struct TextMatcher {
    len: usize,
    /// The phrases and the regexes' leading literals, each literal once.
    literals: aho_corasick::AhoCorasick,
    /// What finding each literal means.
    found: Vec<Vec<Found>>,
    regexes: Vec<GatedRegex>,
    /// The regexes that no literal gates: run on every text.
    ungated: Vec<usize>,
}

/// What a literal of [`TextMatcher::literals`] stands for.
#[derive(Debug, Clone, Copy)]
enum Found {
    /// The whole of a plain-phrase pattern (its index among all patterns).
    Phrase(usize),
    /// A literal that the matches of this regex (index into `regexes`) may begin with.
    Lead(usize),
}

/// Why a text pattern does not compile.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TextError {
    #[error(transparent)]
    Syntax(#[from] regex_syntax::Error),
    #[error(transparent)]
    Build(#[from] meta::BuildError),
}

#[derive(Debug)]
struct GatedRegex {
    /// The pattern's index among all patterns.
    pattern: usize,
    hir: Hir,
    /// Built when a text first has one of its literals (most regexes never do in one run).
    regex: OnceLock<meta::Regex>,
}

impl GatedRegex {
    fn build(hir: &Hir) -> Result<meta::Regex, Box<meta::BuildError>> {
        let config = meta::Config::new()
            .utf8_empty(false)
            .which_captures(WhichCaptures::None)
            .auto_prefilter(false)
            .onepass(false)
            .backtrack(false)
            .dfa(false)
            .nfa_size_limit(Some(64 << 20));
        meta::Builder::new()
            .configure(config)
            .build_from_hir(hir)
            .map_err(Box::new)
    }

    fn regex(&self) -> &meta::Regex {
        self.regex.get_or_init(|| {
            // `TextMatcher::new` built every user pattern once, and a test builds every
            // built-in one: a pattern that fails here has never been seen.
            GatedRegex::build(&self.hir).expect("text patterns were checked when loaded")
        })
    }
}

impl TextMatcher {
    /// Parses the patterns and finds each regex's leading literals. The first worker that
    /// classifies a failure pays for this while the others wait, so the regexes themselves
    /// are built when first needed, and without a prefilter of their own (their leading
    /// literals are their prefilter). With `build_all`, every regex is built now, so that a
    /// pattern the engine cannot build is reported at once (a user's rule file).
    ///
    /// # Errors
    ///
    /// The index of the first pattern that does not parse (or, with `build_all`, build), and
    /// why.
    fn new(patterns: &[String], build_all: bool) -> Result<TextMatcher, (usize, Box<TextError>)> {
        use regex_syntax::hir::literal::{ExtractKind, Extractor};
        let syntax = syntax::Config::new().utf8(false);
        // Each literal once, with everything its finding means.
        let mut literals: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut found: Vec<Vec<Found>> = Vec::new();
        let mut add = |literal: &[u8], what: Found| {
            let next = found.len();
            let at = *literals.entry(literal.to_vec()).or_insert(next);
            if at == next {
                found.push(Vec::new());
            }
            found[at].push(what);
        };
        let (mut regexes, mut ungated) = (Vec::new(), Vec::new());
        let mut extractor = Extractor::new();
        extractor.kind(ExtractKind::Prefix);
        for (index, pattern) in patterns.iter().enumerate() {
            if is_plain_phrase(pattern) {
                add(pattern.as_bytes(), Found::Phrase(index));
                continue;
            }
            let source = if needs_case_folding(pattern) {
                format!("(?i){pattern}")
            } else {
                pattern.clone()
            };
            let hir =
                syntax::parse_with(&source, &syntax).map_err(|e| (index, Box::new(e.into())))?;
            let regex = OnceLock::new();
            if build_all {
                let built = GatedRegex::build(&hir).map_err(|e| (index, Box::new((*e).into())))?;
                let _ = regex.set(built);
            }
            // Every match begins with one of these, unless the set is unbounded or one of
            // them is empty (then nothing is known about how a match begins). Trimmed to a
            // few literals: case-insensitive patterns spell out every case of their letters.
            let mut leads = extractor.extract(&hir);
            leads.optimize_for_prefix_by_preference();
            let at = regexes.len();
            match leads.literals() {
                Some(leads) if !leads.is_empty() && leads.iter().all(|l| !l.is_empty()) => {
                    for lead in leads {
                        add(lead.as_bytes(), Found::Lead(at));
                    }
                }
                _ => ungated.push(at),
            }
            regexes.push(GatedRegex {
                pattern: index,
                hir,
                regex,
            });
        }
        let mut literals: Vec<(Vec<u8>, usize)> = literals.into_iter().collect();
        literals.sort_unstable_by_key(|&(_, at)| at);
        let literals = aho_corasick::AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(literals.iter().map(|(literal, _)| literal))
            .expect("literals are within aho-corasick's limits");
        Ok(TextMatcher {
            len: patterns.len(),
            literals,
            found,
            regexes,
            ungated,
        })
    }

    /// Per pattern, whether it matches the case-folded `text`.
    pub(crate) fn matches(&self, text: &[u8]) -> Vec<bool> {
        let mut matched = vec![false; self.len];
        let mut candidate = vec![false; self.regexes.len()];
        for literal in self.literals.find_overlapping_iter(text) {
            for &what in &self.found[literal.pattern().as_usize()] {
                match what {
                    Found::Phrase(pattern) => matched[pattern] = true,
                    Found::Lead(regex) => candidate[regex] = true,
                }
            }
        }
        for &regex in &self.ungated {
            candidate[regex] = true;
        }
        let input = Input::new(text);
        for (gated, _) in self.regexes.iter().zip(candidate).filter(|(_, c)| *c) {
            if !matched[gated.pattern] && gated.regex().is_match(input.clone()) {
                matched[gated.pattern] = true;
            }
        }
        matched
    }

    #[cfg(test)]
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.len - self.regexes.len(), self.regexes.len())
    }
}

/// A non-empty pattern of lowercase ASCII with no regex syntax: it matches where its text
/// occurs, no more.
fn is_plain_phrase(pattern: &str) -> bool {
    !pattern.is_empty()
        && !needs_case_folding(pattern)
        && !pattern.bytes().any(|b| br"\.+*?()|[]{}^$#&-~".contains(&b))
}

/// Whether a pattern needs the `(?i)` flag to match case-folded text
/// ([`super::normalize::fold_case`]) as it would match the original text case-insensitively.
///
/// Folded text has no uppercase ASCII and no non-ASCII character that folds to an ASCII
/// letter (the Kelvin sign and the long s become `k` and `s`). A pattern of lowercase ASCII
/// therefore matches it the same with or without the flag: every character it could name
/// case-insensitively but not literally is absent from the text. Uppercase letters, non-ASCII
/// characters and escapes that name arbitrary characters (`\p{..}`, `\x..`, `\u..`) keep
/// the flag.
pub(crate) fn needs_case_folding(pattern: &str) -> bool {
    !pattern.is_ascii()
        || pattern.bytes().any(|b| b.is_ascii_uppercase())
        || ["\\p", "\\x", "\\u"]
            .iter()
            .any(|escape| pattern.contains(escape))
}

fn invalid(origin: &str, id: &str, message: &str) -> ClassifyError {
    ClassifyError::Invalid {
        origin: origin.to_owned(),
        id: id.to_owned(),
        message: message.to_owned(),
    }
}

fn compile_rule(
    spec: &RuleSpec,
    origin: &str,
    user: bool,
    text: Range<usize>,
) -> Result<Rule, ClassifyError> {
    let err = |message: String| invalid(origin, &spec.id, &message);
    if spec.id.is_empty()
        || !spec
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(err(
            "ids are non-empty and use only letters, digits, '.', '_' and '-'".into(),
        ));
    }
    let provider = match &spec.provider {
        None => None,
        Some(name) => Some(
            Provider::from_name(name).ok_or_else(|| err(format!("unknown provider {name:?}")))?,
        ),
    };
    let mut stages = 0u16;
    for name in &spec.stage {
        let stage = Stage::parse(name).ok_or_else(|| err(format!("unknown stage {name:?}")))?;
        stages |= stage_bit(stage);
    }
    let replies = spec
        .reply
        .iter()
        .map(|r| parse_reply(r).ok_or_else(|| err(format!("bad reply code pattern {r:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let codes = spec
        .codes
        .iter()
        .map(|c| {
            CodePattern::parse(c).ok_or_else(|| err(format!("bad enhanced code pattern {c:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let category = Category::from_name(&spec.category)
        .ok_or_else(|| err(format!("unknown category {:?}", spec.category)))?;
    let permanence = match &spec.permanence {
        None => None,
        Some(p) => {
            Some(Permanence::from_name(p).ok_or_else(|| err(format!("unknown permanence {p:?}")))?)
        }
    };
    let fault = match &spec.fault {
        None => None,
        Some(f) => Some(Fault::from_name(f).ok_or_else(|| err(format!("unknown fault {f:?}")))?),
    };
    let action = match &spec.action {
        None => None,
        Some(a) => Some(Action::from_name(a).ok_or_else(|| err(format!("unknown action {a:?}")))?),
    };
    if action == Some(Action::RemoveAddress)
        && (!category.is_about_recipient() || fault.is_some_and(|f| f != Fault::Recipient))
    {
        return Err(err(
            "remove_address is only for recipient faults (user, domain or mailbox categories)"
                .into(),
        ));
    }
    if fault == Some(Fault::Recipient) && !category.is_about_recipient() {
        return Err(err(format!(
            "fault recipient does not fit category {}",
            category.as_str()
        )));
    }
    let tier = if provider.is_some() {
        Tier::Provider
    } else if !text.is_empty() && spec.weak {
        Tier::WeakText
    } else if !text.is_empty() {
        Tier::Text
    } else if codes.iter().any(CodePattern::is_specific) {
        Tier::SpecificCode
    } else if stages != 0 {
        Tier::Stage
    } else if !codes.is_empty() {
        Tier::GenericCode
    } else if !replies.is_empty() {
        Tier::ReplyCode
    } else {
        Tier::CatchAll
    };
    if tier == Tier::CatchAll {
        return Err(err("a rule needs at least one condition".into()));
    }
    if spec.weak && (text.is_empty() || provider.is_some()) {
        return Err(err("weak applies to text rules without a provider".into()));
    }
    Ok(Rule {
        id: intern_id(&spec.id),
        provider,
        stages,
        replies,
        codes,
        text,
        category,
        permanence,
        fault,
        action,
        advice: spec.advice.as_deref().map(Into::into),
        tier,
        user,
    })
}

/// Rule ids live for the whole process so that a [`super::Classification`] stays `Copy` with a
/// `&'static str` id. Each distinct id is leaked once, however often rules are loaded.
fn intern_id(id: &str) -> &'static str {
    static IDS: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut ids = IDS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(&known) = ids.get(id) {
        return known;
    }
    let leaked: &'static str = Box::leak(id.to_owned().into_boxed_str());
    ids.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_patterns() {
        let p = CodePattern::parse("5.7.606-649").unwrap();
        assert!(p.matches(EnhancedCode::new(5, 7, 606)));
        assert!(p.matches(EnhancedCode::new(5, 7, 649)));
        assert!(!p.matches(EnhancedCode::new(5, 7, 650)));
        let p = CodePattern::parse("x.7.26").unwrap();
        assert!(p.matches(EnhancedCode::new(4, 7, 26)));
        assert!(p.matches(EnhancedCode::new(5, 7, 26)));
        assert!(p.is_specific());
        assert!(!CodePattern::parse("5.7.0").unwrap().is_specific());
        assert!(!CodePattern::parse("5.*.*").unwrap().is_specific());
        assert!(CodePattern::parse("5.*.1").is_none());
        assert!(CodePattern::parse("3.1.1").is_none());
        assert!(CodePattern::parse("5.1").is_none());
    }

    #[test]
    fn reply_patterns() {
        assert_eq!(parse_reply("5xx"), Some((500, 599)));
        assert_eq!(parse_reply("55x"), Some((550, 559)));
        assert_eq!(parse_reply("500-504"), Some((500, 504)));
        assert_eq!(parse_reply("421"), Some((421, 421)));
        assert_eq!(parse_reply("999"), None);
    }

    #[test]
    fn rejects_unknown_fields_and_bad_rules() {
        let bad_field =
            "[[rule]]\nid = \"a\"\ncategory = \"spam_content\"\ntext = [\"x\"]\ncolour = 1\n";
        assert!(matches!(
            compile(&[Source {
                origin: "t",
                toml: bad_field,
                user: true
            }]),
            Err(ClassifyError::Parse { .. })
        ));
        let no_condition = "[[rule]]\nid = \"a\"\ncategory = \"spam_content\"\n";
        assert!(
            compile(&[Source {
                origin: "t",
                toml: no_condition,
                user: true
            }])
            .is_err()
        );
        let sender_removal = "[[rule]]\nid = \"a\"\ncategory = \"blocklisted\"\ntext = [\"x\"]\naction = \"remove_address\"\n";
        assert!(
            compile(&[Source {
                origin: "t",
                toml: sender_removal,
                user: true
            }])
            .is_err()
        );
        // A pattern that does not parse is reported with its rule and file, not as "some
        // pattern of some rule".
        let bad_regex = "[[rule]]\nid = \"a\"\ncategory = \"spam_content\"\ntext = [\"x+\"]\n\n\
                         [[rule]]\nid = \"b\"\ncategory = \"spam_content\"\ntext = [\"fine\", \"(\"]\n";
        match compile(&[Source {
            origin: "mine.toml",
            toml: bad_regex,
            user: true,
        }]) {
            Err(ClassifyError::Invalid {
                origin,
                id,
                message,
            }) => {
                assert_eq!((origin.as_str(), id.as_str()), ("mine.toml", "b"));
                assert!(
                    message.starts_with("text pattern \"(\": ") && message.contains("unclosed"),
                    "{message}"
                );
            }
            other => panic!("expected the bad pattern of rule b, got {other:?}"),
        }
    }

    #[test]
    fn tiers_follow_conditions_not_file_order() {
        let toml = r#"
[[rule]]
id = "reply"
reply = ["550"]
category = "unclassified"
[[rule]]
id = "code"
codes = ["5.1.1"]
category = "user_unknown"
[[rule]]
id = "text"
text = ["too many"]
category = "rate_limited"
[[rule]]
id = "prov"
provider = "google"
codes = ["5.1.1"]
category = "user_unknown"
"#;
        let set = compile(&[Source {
            origin: "t",
            toml,
            user: false,
        }])
        .unwrap();
        let ids: Vec<_> = set.rules.iter().map(|r| r.id).collect();
        assert_eq!(ids, ["prov", "text", "code", "reply"]);
    }

    /// Startup guard: Unicode case folding on every pattern made building the built-in set
    /// cost ~900 M instructions. Only the multilingual patterns (and any with uppercase or
    /// code-point escapes) may keep `(?i)`; the rest must be plain lowercase ASCII.
    #[test]
    fn builtin_patterns_mostly_without_case_folding() {
        let specs = parse_specs("built-in", BUILTIN_RULES).unwrap();
        let patterns: Vec<&String> = specs.iter().flat_map(|s| &s.text).collect();
        let folded: Vec<&&String> = patterns.iter().filter(|p| needs_case_folding(p)).collect();
        assert!(patterns.len() > 300, "{} patterns", patterns.len());
        assert!(
            folded.len() <= 40,
            "{} of {} built-in patterns need (?i); write them in lowercase: {folded:?}",
            folded.len(),
            patterns.len()
        );
        // Built-in patterns compile on first use, all of them.
        let set = compile(&[Source {
            origin: "built-in",
            toml: BUILTIN_RULES,
            user: false,
        }])
        .unwrap();
        assert!(!set.text_is_built());
        let (phrases, regexes) = set.text().counts();
        assert_eq!(phrases + regexes, patterns.len());
        assert!(phrases > 150, "{phrases} plain phrases");
        // Every built-in regex builds (they are built on first use in a run).
        assert!(TextMatcher::new(&set.patterns, true).is_ok());
        // Every built-in regex is gated by a few literals (a regex without any would run on
        // every cache miss).
        let text = set.text();
        assert!(text.ungated.is_empty(), "ungated: {:?}", text.ungated);
        assert!(
            text.found.len() < 4 * patterns.len(),
            "{} literals",
            text.found.len()
        );
        assert!(is_plain_phrase("mailbox full: try again, later's"));
        assert!(!is_plain_phrase("mailbox (is )?full"));
        assert!(!is_plain_phrase("Mailbox full"));
        assert!(!needs_case_folding(
            "user unknown|no such (user|mailbox)\\b"
        ));
        assert!(needs_case_folding("unsolicitedIpError"));
        assert!(needs_case_folding("bo[iî]te pleine"));
        assert!(needs_case_folding("\\p{Greek}"));
        assert!(needs_case_folding("\\x{17f}"));
    }

    /// The built-in rule set's matcher, and each pattern compiled on its own as the engine
    /// builds it by default (with its own prefilter), searched over the whole text.
    fn matcher_and_reference() -> (RuleSet, Vec<meta::Regex>) {
        let set = compile(&[Source {
            origin: "built-in",
            toml: BUILTIN_RULES,
            user: false,
        }])
        .unwrap();
        let reference = (set.patterns.iter())
            .map(|pattern| {
                let source = if needs_case_folding(pattern) {
                    format!("(?i){pattern}")
                } else {
                    pattern.clone()
                };
                meta::Builder::new()
                    .syntax(syntax::Config::new().utf8(false))
                    .build(&source)
                    .unwrap()
            })
            .collect();
        (set, reference)
    }

    fn assert_same_matches(set: &RuleSet, reference: &[meta::Regex], text: &[u8]) {
        let mut buffer = Vec::new();
        let text = super::super::normalize::fold_case(text, &mut buffer);
        let matched = set.text().matches(text);
        for (i, regex) in reference.iter().enumerate() {
            assert_eq!(
                matched[i],
                regex.is_match(text),
                "pattern {:?} on {:?}",
                set.patterns[i],
                String::from_utf8_lossy(text)
            );
        }
    }

    /// Gating the regexes by their leading literals never changes what matches: on every
    /// labelled reply of the classifier's fixtures, normalised as the classifier sees it.
    #[test]
    fn gated_matcher_agrees_with_each_pattern_on_the_fixtures() {
        let (set, reference) = matcher_and_reference();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/classify");
        let mut texts = 0;
        let mut hits = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let jsonl = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for line in jsonl.lines() {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                let Some(text) = value["text"].as_str() else {
                    continue;
                };
                let mut normalized = Vec::new();
                super::super::normalize::normalize_into(text.as_bytes(), &[], &mut normalized);
                assert_same_matches(&set, &reference, &normalized);
                let mut buffer = Vec::new();
                let folded = super::super::normalize::fold_case(&normalized, &mut buffer);
                hits += set.text().matches(folded).iter().filter(|&&m| m).count();
                texts += 1;
            }
        }
        assert!(texts > 300, "{texts} texts");
        assert!(hits > texts, "{hits} pattern matches in {texts} texts");
    }

    /// Words taken from the patterns themselves, so that generated texts match many of them
    /// (wholly or in part), with the characters their syntax is about.
    fn pattern_words() -> Vec<String> {
        let mut words: Vec<String> = (BUILTIN_RULES.lines())
            .filter_map(|line| line.strip_prefix("text = "))
            .flat_map(|list| {
                list.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
                    .filter(|w| !w.is_empty())
                    .map(str::to_lowercase)
                    .collect::<Vec<_>>()
            })
            .collect();
        words.extend(["#", "-", "[ts03]", "(ptr)", ".", "00", "'", "é"].map(String::from));
        words.sort();
        words.dedup();
        words
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// The same on texts made of the patterns' own words, joined by spaces, hyphens or
        /// nothing, in upper and lower case.
        #[test]
        fn gated_matcher_agrees_with_each_pattern_on_pattern_words(
            picks in proptest::collection::vec((0usize..10_000, 0u8..4), 1..12),
        ) {
            use std::sync::LazyLock;
            static CASE: LazyLock<(RuleSet, Vec<meta::Regex>, Vec<String>)> = LazyLock::new(|| {
                let (set, reference) = matcher_and_reference();
                (set, reference, pattern_words())
            });
            let (set, reference, words) = &*CASE;
            let mut text = String::new();
            for (pick, join) in picks {
                let word = &words[pick % words.len()];
                match join {
                    0 => text.push(' '),
                    1 => text.push('-'),
                    2 => {}
                    _ => {
                        text.push(' ');
                        text.push_str(&word.to_uppercase());
                        continue;
                    }
                }
                text.push_str(word);
            }
            assert_same_matches(set, reference, text.trim().as_bytes());
        }
    }
}
