//! Classification: what happened to a failed or deferred attempt, whose fault it is and what
//! to do about it.
//!
//! Input is a [`ClassifyInput`] (reply code, enhanced code, the MTA's dsn, diagnostic text,
//! SMTP stage, remote host, recipient domain); output is a [`Classification`] (category,
//! permanence, fault, action, provider and the id of the rule that decided). The
//! [`Classifier`] is built once and shared by all workers.
//!
//! Rules are data ([`rules`]): a TOML file compiled into the binary, which a user file can
//! extend or override. The classifier resolves the codes (the reply's own, one found in the
//! text, or the MTA's dsn), normalises the text ([`normalize`]), matches every text pattern
//! (one aho-corasick pass finds the plain phrases and the literals each regex must begin with;
//! only the regexes whose literals occur are run, each built on first use), and takes the
//! first rule that holds in precedence order: provider rules,
//! text rules, specific enhanced codes, stage rules, generic codes, bare reply codes. Results
//! are cached on the normalised reply (the `cache` module), so the millionth "user unknown"
//! costs one hash lookup.
//!
//! [`baseline_category`] is the status-code-only classification that the rule engine is
//! measured against (see [`eval`]).

mod cache;
pub mod eval;
pub mod jsonl;
pub mod normalize;
pub mod provider;
pub mod rules;

use std::cell::RefCell;
use std::path::Path;
use std::sync::{Arc, LazyLock, OnceLock};

use memchr::memmem::Finder;

use crate::event::{EnhancedCode, Event, Outcome, Stage};

pub use provider::Provider;
pub use rules::ClassifyError;

use cache::Cache;
use rules::{Facts, Rule, RuleSet, Source};

/// What went wrong (or right). The dataset's `category` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    UserUnknown,
    DomainUnknown,
    DomainAcceptsNoMail,
    MailboxDisabled,
    MailboxMoved,
    MailboxFull,
    AuthFailure,
    Blocklisted,
    BadReputation,
    MissingPtr,
    TlsRequired,
    RateLimited,
    Greylisted,
    SenderRejected,
    RelayDenied,
    PolicyRejected,
    SpamContent,
    VirusContent,
    MessageTooLarge,
    MalformedMessage,
    Expired,
    NetworkError,
    RemoteSystemError,
    ProtocolError,
    Delivered,
    Unclassified,
}

impl Category {
    pub const ALL: [Category; 26] = [
        Category::UserUnknown,
        Category::DomainUnknown,
        Category::DomainAcceptsNoMail,
        Category::MailboxDisabled,
        Category::MailboxMoved,
        Category::MailboxFull,
        Category::AuthFailure,
        Category::Blocklisted,
        Category::BadReputation,
        Category::MissingPtr,
        Category::TlsRequired,
        Category::RateLimited,
        Category::Greylisted,
        Category::SenderRejected,
        Category::RelayDenied,
        Category::PolicyRejected,
        Category::SpamContent,
        Category::VirusContent,
        Category::MessageTooLarge,
        Category::MalformedMessage,
        Category::Expired,
        Category::NetworkError,
        Category::RemoteSystemError,
        Category::ProtocolError,
        Category::Delivered,
        Category::Unclassified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::UserUnknown => "user_unknown",
            Category::DomainUnknown => "domain_unknown",
            Category::DomainAcceptsNoMail => "domain_accepts_no_mail",
            Category::MailboxDisabled => "mailbox_disabled",
            Category::MailboxMoved => "mailbox_moved",
            Category::MailboxFull => "mailbox_full",
            Category::AuthFailure => "auth_failure",
            Category::Blocklisted => "blocklisted",
            Category::BadReputation => "bad_reputation",
            Category::MissingPtr => "missing_ptr",
            Category::TlsRequired => "tls_required",
            Category::RateLimited => "rate_limited",
            Category::Greylisted => "greylisted",
            Category::SenderRejected => "sender_rejected",
            Category::RelayDenied => "relay_denied",
            Category::PolicyRejected => "policy_rejected",
            Category::SpamContent => "spam_content",
            Category::VirusContent => "virus_content",
            Category::MessageTooLarge => "message_too_large",
            Category::MalformedMessage => "malformed_message",
            Category::Expired => "expired",
            Category::NetworkError => "network_error",
            Category::RemoteSystemError => "remote_system_error",
            Category::ProtocolError => "protocol_error",
            Category::Delivered => "delivered",
            Category::Unclassified => "unclassified",
        }
    }

    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Categories that are about the recipient's address or mailbox: the only ones that may
    /// lead to removing an address.
    pub fn is_about_recipient(self) -> bool {
        matches!(
            self,
            Category::UserUnknown
                | Category::DomainUnknown
                | Category::DomainAcceptsNoMail
                | Category::MailboxDisabled
                | Category::MailboxMoved
                | Category::MailboxFull
        )
    }

    /// What the category means, in a sentence.
    pub fn meaning(self) -> &'static str {
        use Category as C;
        match self {
            C::UserUnknown => "The receiving server has no mailbox by this name.",
            C::DomainUnknown => {
                "The recipient's domain does not exist or has no mail servers in DNS."
            }
            C::DomainAcceptsNoMail => {
                "The recipient's domain declares that it receives no mail (null MX)."
            }
            C::MailboxDisabled => "The mailbox exists but is disabled, suspended or inactive.",
            C::MailboxMoved => {
                "The recipient has moved: the server names another address or refuses to forward."
            }
            C::MailboxFull => "The recipient's mailbox is over its storage quota.",
            C::AuthFailure => {
                "The message failed SPF, DKIM or DMARC checks, or the domains do not align."
            }
            C::Blocklisted => {
                "The sending IP or domain is on a block list or banned by the receiver."
            }
            C::BadReputation => {
                "The receiver distrusts the sender's IP or domain because of its history (complaints, spam traps, volume)."
            }
            C::MissingPtr => {
                "The sending IP has no reverse DNS, or its PTR name does not resolve back to it."
            }
            C::TlsRequired => {
                "The receiver requires an encrypted (TLS) connection, or the TLS/DANE checks failed."
            }
            C::RateLimited => {
                "The receiver is throttling: too many messages, connections or recipients in too short a time."
            }
            C::Greylisted => {
                "The receiver deferred a first attempt on purpose and will accept a retry later."
            }
            C::SenderRejected => {
                "The envelope sender (MAIL FROM) address or its domain was refused."
            }
            C::RelayDenied => {
                "The server will not relay: it is not responsible for the recipient's domain and we are not authorised."
            }
            C::PolicyRejected => {
                "A local policy of the receiver refused the message (without saying it is spam or a block list)."
            }
            C::SpamContent => "The receiver's filter judged the message itself to be spam.",
            C::VirusContent => "The receiver found a virus, malware or a forbidden attachment.",
            C::MessageTooLarge => "The message is larger than the receiver accepts.",
            C::MalformedMessage => {
                "The message breaks the format rules (RFC 5322 headers, line lengths, encoding)."
            }
            C::Expired => "The MTA gave up after retrying for its maximum queue lifetime.",
            C::NetworkError => {
                "No usable connection: DNS failure, connection refused or timed out, routing or loop."
            }
            C::RemoteSystemError => {
                "The receiving system failed on its side (disk full, local error, unavailable service)."
            }
            C::ProtocolError => {
                "The SMTP dialogue went wrong (syntax errors, unexpected commands, pipelining)."
            }
            C::Delivered => "The message was accepted.",
            C::Unclassified => "No rule recognised this reply.",
        }
    }
}

/// Whether retrying can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permanence {
    Permanent,
    Transient,
    /// Delivered: nothing to retry.
    None,
}

impl Permanence {
    pub fn as_str(self) -> &'static str {
        match self {
            Permanence::Permanent => "permanent",
            Permanence::Transient => "transient",
            Permanence::None => "none",
        }
    }

    pub const ALL: [Permanence; 3] = [
        Permanence::Permanent,
        Permanence::Transient,
        Permanence::None,
    ];

    pub fn from_name(name: &str) -> Option<Permanence> {
        Permanence::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// Whose side must act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    Recipient,
    SenderInfrastructure,
    Content,
    RemoteSystem,
    Network,
    None,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Recipient => "recipient",
            Fault::SenderInfrastructure => "sender_infrastructure",
            Fault::Content => "content",
            Fault::RemoteSystem => "remote_system",
            Fault::Network => "network",
            Fault::None => "none",
        }
    }

    pub const ALL: [Fault; 6] = [
        Fault::Recipient,
        Fault::SenderInfrastructure,
        Fault::Content,
        Fault::RemoteSystem,
        Fault::Network,
        Fault::None,
    ];

    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// What the user should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    None,
    RemoveAddress,
    Retry,
    ReduceRate,
    FixAuthentication,
    AddReverseDns,
    CheckReputation,
    ReviewContent,
    ReduceSize,
    FixAddressSyntax,
    EnableTls,
    Investigate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::RemoveAddress => "remove_address",
            Action::Retry => "retry",
            Action::ReduceRate => "reduce_rate",
            Action::FixAuthentication => "fix_authentication",
            Action::AddReverseDns => "add_reverse_dns",
            Action::CheckReputation => "check_reputation",
            Action::ReviewContent => "review_content",
            Action::ReduceSize => "reduce_size",
            Action::FixAddressSyntax => "fix_address_syntax",
            Action::EnableTls => "enable_tls",
            Action::Investigate => "investigate",
        }
    }

    pub const ALL: [Action; 12] = [
        Action::None,
        Action::RemoveAddress,
        Action::Retry,
        Action::ReduceRate,
        Action::FixAuthentication,
        Action::AddReverseDns,
        Action::CheckReputation,
        Action::ReviewContent,
        Action::ReduceSize,
        Action::FixAddressSyntax,
        Action::EnableTls,
        Action::Investigate,
    ];

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// What to do, in a sentence.
    pub fn advice(self) -> &'static str {
        match self {
            Action::None => "Nothing to do.",
            Action::RemoveAddress => {
                "Stop sending to this address: suppress it on your list so later campaigns skip it."
            }
            Action::Retry => {
                "Nothing to change: let the queue retry; act only if the deferrals persist for days."
            }
            Action::ReduceRate => {
                "Slow down to this provider: fewer connections and messages per hour, then ramp up again gradually."
            }
            Action::FixAuthentication => {
                "Fix SPF and DKIM for the sending domain and make them align with the From: domain so DMARC passes."
            }
            Action::AddReverseDns => {
                "Give the sending IP a PTR record whose host name resolves back to the same IP."
            }
            Action::CheckReputation => {
                "Check the sending IP and domain on block lists and the provider's postmaster tools, fix the cause, then request delisting."
            }
            Action::ReviewContent => {
                "Review the message: content, links, attachments and the list it went to; send only to people who asked for it."
            }
            Action::ReduceSize => {
                "Send a smaller message: link to large files instead of attaching them."
            }
            Action::FixAddressSyntax => "Correct the address: it is not a valid mailbox name.",
            Action::EnableTls => {
                "Deliver over TLS: enable STARTTLS with a valid certificate (and DANE/MTA-STS where the receiver requires it)."
            }
            Action::Investigate => {
                "Read the full reply and the receiver's documentation: no automatic remedy fits."
            }
        }
    }
}

/// Everything the classifier looks at for one attempt.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassifyInput<'a> {
    pub outcome: Option<Outcome>,
    pub reply_code: Option<u16>,
    pub enhanced_code: Option<EnhancedCode>,
    pub dsn: Option<EnhancedCode>,
    pub text: &'a [u8],
    pub stage: Option<Stage>,
    pub remote_host: Option<&'a [u8]>,
    pub recipient_domain: Option<&'a [u8]>,
}

impl<'a> ClassifyInput<'a> {
    /// The classifier's view of a parsed event (what `ingest` classifies).
    pub fn from_event(event: &Event<'a>) -> ClassifyInput<'a> {
        ClassifyInput {
            outcome: Some(event.outcome),
            reply_code: event.reply_code,
            enhanced_code: event.enhanced_code,
            dsn: event.dsn,
            text: event.text,
            stage: event.stage,
            remote_host: event.remote_host.filter(|h| !h.is_empty()),
            recipient_domain: Some(event.recipient_domain).filter(|d| !d.is_empty()),
        }
    }
}

/// The verdict on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Classification {
    pub category: Category,
    pub permanence: Permanence,
    pub fault: Fault,
    pub action: Action,
    pub provider: Provider,
    /// The id of the rule that decided (a rule in the rule files, or one of the fixed
    /// decisions in [`FIXED_RULE_IDS`]). Look it up with [`Classifier::rule_info`].
    pub rule_id: &'static str,
}

/// Decisions made in code rather than by a rule file: the outcome short-cuts, the stage
/// guards, and "no rule matched".
pub const FIXED_RULE_IDS: [&str; 5] = [
    RULE_DELIVERED,
    RULE_EXPIRED,
    RULE_BEFORE_MAIL,
    RULE_MAIL_FROM,
    RULE_NONE,
];
/// The MTA logged a delivery.
pub const RULE_DELIVERED: &str = "outcome.delivered";
/// The MTA gave up retrying.
pub const RULE_EXPIRED: &str = "outcome.expired";
/// A recipient-looking refusal at connect/greeting/EHLO/STARTTLS/AUTH is about the sending host.
pub const RULE_BEFORE_MAIL: &str = "stage.before_mail";
/// A recipient-looking refusal of MAIL FROM is about the envelope sender.
pub const RULE_MAIL_FROM: &str = "stage.mail_from";
/// No rule matched.
pub const RULE_NONE: &str = "none";

/// About one rule, for `explain` and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo<'a> {
    pub id: &'static str,
    /// `provider`, `text`, `stage`, `specific enhanced code`, ... or `fixed`.
    pub tier: &'static str,
    /// True when the rule came from a user's `--rules` file.
    pub user: bool,
    /// The rule's own advice, if it has one.
    pub advice: Option<&'a str>,
}

/// Default capacity of the classification cache (entries).
const CACHE_CAPACITY: usize = 1 << 15;

/// Classifies attempts. `Send + Sync`: build one and share it by reference across workers.
pub struct Classifier {
    rules: Arc<RuleSet>,
    cache: Cache,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("rules", &self.rules.rules.len())
            .finish_non_exhaustive()
    }
}

impl Default for Classifier {
    fn default() -> Self {
        Classifier::new()
    }
}

fn builtin_rules() -> Arc<RuleSet> {
    static BUILTIN: OnceLock<Arc<RuleSet>> = OnceLock::new();
    BUILTIN
        .get_or_init(|| {
            let source = Source {
                origin: "built-in rules.toml",
                toml: rules::BUILTIN_RULES,
                user: false,
            };
            // The built-in rules are validated by the test suite; failing here is a bug.
            Arc::new(rules::compile(&[source]).expect("built-in classifier rules are valid"))
        })
        .clone()
}

thread_local! {
    /// The cache key under construction, reused so a cache hit allocates nothing.
    static KEY: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
}

/// Bytes of structured fields in front of the normalised text in a cache key.
const KEY_HEADER: usize = 15;

impl Classifier {
    /// The classifier with the built-in rules. Compiling them happens once per process; each
    /// classifier gets its own cache.
    pub fn new() -> Classifier {
        Classifier {
            rules: builtin_rules(),
            cache: Cache::new(CACHE_CAPACITY),
        }
    }

    /// The built-in rules plus a user rule file: its rules add to the built-ins, and a rule
    /// with a built-in's id replaces it.
    ///
    /// # Errors
    /// The file cannot be read, is not valid TOML, has unknown fields, or a rule is invalid
    /// (unknown category, bad code pattern or regex, `remove_address` for a non-recipient
    /// fault, no condition at all). The error names the file and the rule id.
    pub fn from_rules_file(path: &Path) -> Result<Classifier, ClassifyError> {
        let text = std::fs::read_to_string(path).map_err(|source| ClassifyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Classifier::from_rules_str(&path.display().to_string(), &text)
    }

    /// Like [`Classifier::from_rules_file`], from text; `origin` names it in errors.
    ///
    /// # Errors
    /// As [`Classifier::from_rules_file`], except reading.
    pub fn from_rules_str(origin: &str, toml: &str) -> Result<Classifier, ClassifyError> {
        let sources = [
            Source {
                origin: "built-in rules.toml",
                toml: rules::BUILTIN_RULES,
                user: false,
            },
            Source {
                origin,
                toml,
                user: true,
            },
        ];
        Ok(Classifier {
            rules: Arc::new(rules::compile(&sources)?),
            cache: Cache::new(CACHE_CAPACITY),
        })
    }

    /// [`Classifier::new`] or, given a path, [`Classifier::from_rules_file`].
    ///
    /// # Errors
    /// As [`Classifier::from_rules_file`].
    pub fn with_optional_rules(path: Option<&Path>) -> Result<Classifier, ClassifyError> {
        match path {
            Some(path) => Classifier::from_rules_file(path),
            None => Ok(Classifier::new()),
        }
    }

    /// Classifies one attempt. Deterministic: the same input always gives the same answer,
    /// whatever was classified before (the cache only stores answers that are functions of
    /// their keys).
    pub fn classify(&self, input: &ClassifyInput<'_>) -> Classification {
        let provider = Provider::detect(input.remote_host, input.recipient_domain);
        if let Some(fixed) = outcome_shortcut(input, provider) {
            return fixed;
        }
        let resolved = Resolved::new(input, provider);
        KEY.with(|key| {
            let mut key = key.borrow_mut();
            resolved.write_key(input, &mut key);
            if let Some(hit) = self.cache.get(&key) {
                return hit;
            }
            let class = self.decide(input, &resolved, &key[KEY_HEADER..]);
            self.cache.insert(&key, class);
            class
        })
    }

    /// Classifies without the cache (for tests and benchmarks).
    pub fn classify_uncached(&self, input: &ClassifyInput<'_>) -> Classification {
        let provider = Provider::detect(input.remote_host, input.recipient_domain);
        if let Some(fixed) = outcome_shortcut(input, provider) {
            return fixed;
        }
        let resolved = Resolved::new(input, provider);
        let mut key = Vec::new();
        resolved.write_key(input, &mut key);
        self.decide(input, &resolved, &key[KEY_HEADER..])
    }

    fn decide(
        &self,
        input: &ClassifyInput<'_>,
        resolved: &Resolved,
        normalized: &[u8],
    ) -> Classification {
        let stage = input
            .stage
            .or_else(|| normalize::stage_from_text(normalized));
        let mut folded = Vec::new();
        let text_matches = self
            .rules
            .text()
            .matches(normalize::fold_case(normalized, &mut folded));
        let facts = Facts {
            provider: resolved.provider,
            stage,
            reply_code: resolved.reply_code,
            code: resolved.code,
            text_matches: &text_matches,
        };
        let rule: Option<&Rule> = self.rules.rules.iter().find(|r| r.matches(&facts));
        let (mut category, mut rule_id) = match rule {
            Some(rule) => (rule.category, rule.id),
            None => (Category::Unclassified, RULE_NONE),
        };
        let mut rule = rule;
        // The stage guard: a server that refuses before RCPT cannot be refusing the
        // recipient. It needs a reply: without one, the "stage" is our own DNS lookup or
        // connection, and a domain that does not resolve is the recipient's problem.
        if category.is_about_recipient() && resolved.reply_code.is_some() {
            match stage {
                Some(
                    Stage::Connect | Stage::Greeting | Stage::Ehlo | Stage::StartTls | Stage::Auth,
                ) => {
                    (category, rule_id, rule) = (Category::PolicyRejected, RULE_BEFORE_MAIL, None);
                }
                Some(Stage::MailFrom) => {
                    (category, rule_id, rule) = (Category::SenderRejected, RULE_MAIL_FROM, None);
                }
                _ => {}
            }
        }
        let permanence = permanence_of(input, resolved, rule, category);
        let (mut fault, mut action) = fault_and_action(category, permanence);
        if let Some(rule) = rule {
            fault = rule.fault.unwrap_or(fault);
            action = rule.action.unwrap_or(action);
        }
        if action == Action::RemoveAddress
            && (fault != Fault::Recipient || permanence != Permanence::Permanent)
        {
            action = if permanence == Permanence::Transient {
                Action::Retry
            } else {
                Action::Investigate
            };
        }
        Classification {
            category,
            permanence,
            fault,
            action,
            provider: resolved.provider,
            rule_id,
        }
    }

    /// The ids of all rules in precedence order, then the fixed decisions.
    pub fn rule_ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.rules.rules.iter().map(|r| r.id).chain(FIXED_RULE_IDS)
    }

    /// Facts about the rule with this id, if there is one.
    pub fn rule_info(&self, id: &str) -> Option<RuleInfo<'_>> {
        if let Some(&fixed) = FIXED_RULE_IDS.iter().find(|&&f| f == id) {
            let advice = match fixed {
                RULE_BEFORE_MAIL => Some(
                    "The receiver refused our host before any recipient was named, so the address is not at fault: check the sending IP's reputation and HELO name.",
                ),
                RULE_MAIL_FROM => Some(
                    "The receiver refused the envelope sender (MAIL FROM), not the recipient: check the bounce address and its domain.",
                ),
                RULE_EXPIRED => Some(
                    "The MTA stopped retrying: look at this recipient's last deferral for the cause before sending again.",
                ),
                _ => None,
            };
            return Some(RuleInfo {
                id: fixed,
                tier: "fixed",
                user: false,
                advice,
            });
        }
        let rule = &self.rules.rules[*self.rules.by_id.get(id)?];
        Some(RuleInfo {
            id: rule.id,
            tier: rule.tier.as_str(),
            user: rule.user,
            advice: rule.advice.as_deref(),
        })
    }

    /// A sentence of advice for a verdict: the deciding rule's own, else the action's.
    pub fn advice(&self, class: &Classification) -> &str {
        self.rule_info(class.rule_id)
            .and_then(|info| info.advice)
            .unwrap_or_else(|| class.action.advice())
    }
}

fn outcome_shortcut(input: &ClassifyInput<'_>, provider: Provider) -> Option<Classification> {
    let (category, rule_id) = match input.outcome {
        Some(Outcome::Delivered) => (Category::Delivered, RULE_DELIVERED),
        Some(Outcome::Expired) => (Category::Expired, RULE_EXPIRED),
        _ => return None,
    };
    let permanence = if category == Category::Delivered {
        Permanence::None
    } else {
        Permanence::Permanent
    };
    let (fault, action) = fault_and_action(category, permanence);
    Some(Classification {
        category,
        permanence,
        fault,
        action,
        provider,
        rule_id,
    })
}

/// The input with its codes resolved: the reply code (given, or read from the start of the
/// text) and the enhanced code (given, found in the text, or the MTA's dsn).
struct Resolved {
    provider: Provider,
    reply_code: Option<u16>,
    code: Option<EnhancedCode>,
}

impl Resolved {
    fn new(input: &ClassifyInput<'_>, provider: Provider) -> Resolved {
        Resolved {
            provider,
            reply_code: input.reply_code.or_else(|| reply_code_in_text(input.text)),
            code: input
                .enhanced_code
                .or_else(|| EnhancedCode::find(input.text))
                .or(input.dsn),
        }
    }

    /// Writes the cache key: every field a rule can look at, then the normalised text.
    fn write_key(&self, input: &ClassifyInput<'_>, key: &mut Vec<u8>) {
        fn code_bytes(code: Option<EnhancedCode>) -> [u8; 5] {
            match code {
                None => [0; 5],
                Some(c) => {
                    let [s0, s1] = c.subject.to_le_bytes();
                    let [d0, d1] = c.detail.to_le_bytes();
                    [c.class, s0, s1, d0, d1]
                }
            }
        }
        key.clear();
        key.push(input.outcome.map_or(0, |o| o as u8 + 1));
        key.extend_from_slice(&self.reply_code.unwrap_or(0).to_le_bytes());
        key.extend_from_slice(&code_bytes(self.code));
        key.extend_from_slice(&code_bytes(input.dsn));
        key.push(input.stage.map_or(0, |s| s as u8 + 1));
        key.push(self.provider as u8);
        debug_assert_eq!(key.len(), KEY_HEADER);
        // Absent names are empty, and an empty name masks nothing.
        let known = [
            input.remote_host.unwrap_or_default(),
            input.recipient_domain.unwrap_or_default(),
        ];
        normalize::normalize_into(input.text, &known, key);
    }
}

/// A reply code at the start of the text (after a DSN `smtp;` prefix, as ESP exports write
/// it), after Postfix's `said:`, or after Exim's `SMTP error from remote mail server after ...:`.
fn reply_code_in_text(text: &[u8]) -> Option<u16> {
    fn at(bytes: &[u8]) -> Option<u16> {
        let bytes = bytes.trim_ascii_start();
        if bytes.len() >= 3
            && matches!(bytes[0], b'2' | b'4' | b'5')
            && bytes[1].is_ascii_digit()
            && bytes[2].is_ascii_digit()
            && bytes
                .get(3)
                .is_none_or(|b| matches!(b, b' ' | b'-' | b'\t'))
        {
            let n = bytes[..3]
                .iter()
                .fold(0u16, |n, b| n * 10 + u16::from(b - b'0'));
            return Some(n);
        }
        None
    }
    let dsn_prefix = text.len() >= 5 && text[..5].eq_ignore_ascii_case(b"smtp;");
    // Built once: a one-off search builds its searcher on every call, which costs more than
    // the search (this runs for every failure that came without a code).
    static SAID: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("said:"));
    static AFTER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("mail server after "));
    at(if dsn_prefix { &text[5..] } else { text })
        .or_else(|| {
            let said = SAID.find(text)?;
            at(&text[said + 5..])
        })
        .or_else(|| {
            // Exim: "SMTP error from remote mail server after RCPT TO:<a@b>: 550 ..."
            let after = AFTER.find(text)?;
            let rest = &text[after..];
            memchr::memmem::find_iter(rest, b": ").find_map(|i| at(&rest[i + 2..]))
        })
}

/// The input with its reply code and enhanced code filled in from the text where they are
/// absent, as a log parser would extract them. The baseline gets this view in evaluations so
/// that it is judged on the codes, not on whether the codes were given separately.
pub fn with_codes_from_text<'a>(input: &ClassifyInput<'a>) -> ClassifyInput<'a> {
    ClassifyInput {
        reply_code: input.reply_code.or_else(|| reply_code_in_text(input.text)),
        enhanced_code: input
            .enhanced_code
            .or_else(|| EnhancedCode::find(input.text)),
        ..*input
    }
}

/// The status-code-only classification: enhanced code class and subject, then the reply code.
/// It is the baseline the rule engine's accuracy is compared with; the classifier never uses
/// it.
pub fn baseline_category(input: &ClassifyInput<'_>) -> (Category, &'static str) {
    match input.outcome {
        Some(Outcome::Delivered) => return (Category::Delivered, "outcome.delivered"),
        Some(Outcome::Expired) => return (Category::Expired, "outcome.expired"),
        _ => {}
    }
    let code = input.enhanced_code.or(input.dsn);
    if let Some(code) = code {
        if code.class == 2 {
            return (Category::Delivered, "code.2xx");
        }
        let category = match (code.subject, code.detail) {
            (1, 1) | (1, 6) | (1, 10) => Some(Category::UserUnknown),
            (1, 2) => Some(Category::DomainUnknown),
            (1, 3) => Some(Category::MalformedMessage),
            (1, 7) | (1, 8) => Some(Category::SenderRejected),
            (2, 1) => Some(Category::MailboxDisabled),
            (2, 2) => Some(Category::MailboxFull),
            (2, 3) | (3, 4) => Some(Category::MessageTooLarge),
            (3, _) => Some(Category::RemoteSystemError),
            (4, 4) | (4, 1) | (4, 2) | (4, 7) if input.reply_code.is_none() => {
                Some(Category::NetworkError)
            }
            (4, 7) => Some(Category::Expired),
            (4, _) => Some(Category::NetworkError),
            (5, _) => Some(Category::ProtocolError),
            (6, _) => Some(Category::MalformedMessage),
            (7, 1) => Some(Category::PolicyRejected),
            (7, _) => Some(Category::PolicyRejected),
            (1, _) => Some(Category::UserUnknown),
            (2, _) => Some(Category::MailboxDisabled),
            _ => None,
        };
        if let Some(category) = category {
            return (category, "code.enhanced");
        }
    }
    match input.reply_code {
        Some(450 | 550) => (Category::UserUnknown, "code.reply"),
        Some(452 | 552) => (Category::MailboxFull, "code.reply"),
        Some(421) => (Category::RemoteSystemError, "code.reply"),
        Some(451) => (Category::RemoteSystemError, "code.reply"),
        Some(553) => (Category::SenderRejected, "code.reply"),
        Some(554) => (Category::PolicyRejected, "code.reply"),
        Some(500..=504) => (Category::ProtocolError, "code.reply"),
        None if input.text.is_empty() => (Category::Unclassified, "none"),
        None => (Category::NetworkError, "code.none"),
        _ => (Category::Unclassified, "none"),
    }
}

/// Permanence: the outcome if the MTA logged one, else the code class, else the rule's or the
/// category's usual permanence.
fn permanence_of(
    input: &ClassifyInput<'_>,
    resolved: &Resolved,
    rule: Option<&Rule>,
    category: Category,
) -> Permanence {
    if category == Category::Delivered {
        return Permanence::None;
    }
    match input.outcome {
        Some(Outcome::Bounced | Outcome::Expired) => return Permanence::Permanent,
        Some(Outcome::Deferred) => return Permanence::Transient,
        _ => {}
    }
    let class = resolved
        .reply_code
        .map(|c| (c / 100) as u8)
        .or(resolved.code.map(|c| c.class));
    match class {
        Some(5) => Permanence::Permanent,
        Some(4) => Permanence::Transient,
        _ => rule.and_then(|r| r.permanence).unwrap_or(match category {
            Category::RateLimited
            | Category::Greylisted
            | Category::NetworkError
            | Category::RemoteSystemError => Permanence::Transient,
            _ => Permanence::Permanent,
        }),
    }
}

/// The default fault and action for a category. Only recipient categories ever lead to
/// removing an address, and only when the failure is permanent.
pub fn fault_and_action(category: Category, permanence: Permanence) -> (Fault, Action) {
    use Category as C;
    let transient = permanence == Permanence::Transient;
    match category {
        C::Delivered => (Fault::None, Action::None),
        C::UserUnknown
        | C::DomainUnknown
        | C::DomainAcceptsNoMail
        | C::MailboxDisabled
        | C::MailboxMoved
        | C::MailboxFull
            if transient =>
        {
            (Fault::Recipient, Action::Retry)
        }
        C::UserUnknown
        | C::DomainUnknown
        | C::DomainAcceptsNoMail
        | C::MailboxDisabled
        | C::MailboxMoved
        | C::MailboxFull => (Fault::Recipient, Action::RemoveAddress),
        C::AuthFailure => (Fault::SenderInfrastructure, Action::FixAuthentication),
        C::Blocklisted | C::BadReputation => (Fault::SenderInfrastructure, Action::CheckReputation),
        C::MissingPtr => (Fault::SenderInfrastructure, Action::AddReverseDns),
        C::TlsRequired => (Fault::SenderInfrastructure, Action::EnableTls),
        C::RateLimited => (Fault::SenderInfrastructure, Action::ReduceRate),
        C::Greylisted => (Fault::None, Action::Retry),
        C::SenderRejected => (Fault::SenderInfrastructure, Action::Investigate),
        C::RelayDenied => (Fault::SenderInfrastructure, Action::Investigate),
        C::PolicyRejected => (Fault::SenderInfrastructure, Action::Investigate),
        C::SpamContent => (Fault::Content, Action::ReviewContent),
        C::VirusContent => (Fault::Content, Action::ReviewContent),
        C::MessageTooLarge => (Fault::Content, Action::ReduceSize),
        C::MalformedMessage => (Fault::Content, Action::ReviewContent),
        // Expiry follows days of deferrals whose cause the last deferral shows.
        C::Expired => (Fault::RemoteSystem, Action::Investigate),
        C::NetworkError if transient => (Fault::Network, Action::Retry),
        C::NetworkError => (Fault::Network, Action::Investigate),
        C::RemoteSystemError => (Fault::RemoteSystem, Action::Retry),
        C::ProtocolError => (Fault::RemoteSystem, Action::Investigate),
        C::Unclassified => (Fault::None, Action::Investigate),
    }
}

#[cfg(test)]
mod tests;
