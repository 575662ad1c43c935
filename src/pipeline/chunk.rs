//! One chunk of Postfix log: lines in, a partial aggregate, stats and correlation state out.
//!
//! A chunk is a run of whole lines (a slice of a memory-mapped file or a block read from a
//! decompressor). Everything here is allocation-free per line: the line is parsed in place,
//! strings are interned into the worker's [`Aggregate`], and only failed attempts go through
//! the classifier (which caches its verdict per normalised reply).

use super::queue::{LocalQueues, QueueKey, recipient_id, short_eq};
use super::stats::Stats;
use crate::aggregate::recipients::{Detail, Recipients, Strike};
use crate::aggregate::{Aggregate, CubeKey, Sym};
use crate::classify::{
    Category, Classifier, ClassifyInput, Permanence, Provider, fault_and_action,
};
use crate::event::{Event, Outcome, domain_of};
use crate::format::cri::{self, ContainerLine, Joined, Joiner};
use crate::format::esp::{self, EventSink};
use crate::format::exim::{Feed, Reassembler};
use crate::format::json_line::{self, JsonLine};
use crate::format::syslog::TimeContext;
use crate::format::{Delivery, Envelope, Format, Parsed, Record};

/// Lines longer than this are rejected unread (a runaway line is not a log record).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

const US_PER_HOUR: i64 = 3_600_000_000;

/// The result of one chunk, to be absorbed in input order. The events the chunk could count
/// on its own went into the worker's aggregate; what is left is its correlation state, whose
/// symbols are numbered by `symbols` (see [`LocalQueues::export`]).
#[derive(Debug)]
pub struct ChunkResult {
    pub stats: Stats,
    pub queues: LocalQueues,
    pub symbols: Vec<Box<str>>,
}

impl ChunkResult {
    /// About how many bytes of heap the result holds: what it costs to keep it waiting for
    /// the results before it. Mostly its correlation state, some 15% of a Postfix block.
    pub fn heap_bytes(&self) -> usize {
        let symbols: usize = self
            .symbols
            .iter()
            .map(|s| s.len() + size_of::<Box<str>>())
            .sum();
        let samples: usize = self
            .stats
            .samples
            .iter()
            .map(|s| s.text.len() + size_of_val(s))
            .sum();
        self.queues.heap_bytes() + symbols + samples
    }
}

/// Parses and correlates one chunk.
pub struct ChunkProcessor<'c> {
    classifier: &'c Classifier,
    format: Format,
    time: TimeContext,
    input: usize,
    aggregate: Aggregate,
    stats: Stats,
    queues: LocalQueues,
    /// The host of each queue instance the chunk has seen, by instance id, once interned.
    instance_hosts: Vec<Option<Sym>>,
    /// The provider of each recipient domain the chunk has seen (by its symbol, which the
    /// interner gives to the name whatever its case), once looked up.
    domain_providers: Vec<Option<Provider>>,
    /// ESP records: the last host interned.
    last_host: Vec<u8>,
    last_host_sym: Sym,
    have_last_host: bool,
    /// Reused buffer for replies that must be folded before classification.
    folded: Vec<u8>,
    /// Exim only: joins entries syslog split into `[n/m]` parts (see [`Reassembler`]).
    exim: Option<Reassembler>,
    /// The syslog line of the last JSON line read (see [`json_line`]).
    json_line: JsonLine,
    /// Container logs: the parts of lines the runtime cut, until their ends (see
    /// [`cri::Joiner`]).
    container_parts: Joiner,
    /// Per-address strikes and deliveries, when the run lists recipients to suppress.
    recipients: Option<Recipients>,
}

impl<'c> ChunkProcessor<'c> {
    pub fn new(
        classifier: &'c Classifier,
        format: Format,
        time: TimeContext,
        input: usize,
    ) -> Self {
        Self::with_aggregate(classifier, format, time, input, Aggregate::new())
    }

    /// A processor that counts into `aggregate`, a worker's aggregate kept from block to
    /// block (so its tables are not rebuilt and merged for every block).
    pub fn with_aggregate(
        classifier: &'c Classifier,
        format: Format,
        time: TimeContext,
        input: usize,
        aggregate: Aggregate,
    ) -> Self {
        ChunkProcessor {
            classifier,
            format,
            time,
            input,
            aggregate,
            stats: Stats::default(),
            queues: LocalQueues::default(),
            instance_hosts: Vec::new(),
            domain_providers: Vec::new(),
            last_host: Vec::new(),
            last_host_sym: Sym(0),
            have_last_host: false,
            folded: Vec::new(),
            exim: (format == Format::Exim).then(Reassembler::new),
            json_line: JsonLine::new(),
            container_parts: Joiner::default(),
            recipients: None,
        }
    }

    /// Records strikes and deliveries per address into `recipients` (see
    /// [`crate::aggregate::recipients`]); [`ChunkProcessor::finish`] hands it back.
    pub fn track_recipients(&mut self, recipients: Recipients) {
        self.recipients = Some(recipients);
    }

    /// Processes every line of `data`. A last line without a newline is processed too.
    /// An ESP export is processed as whole JSON records instead (see [`esp`]).
    pub fn process(&mut self, data: &[u8]) {
        if !self.format.is_line_based() {
            self.process_records(data);
            return;
        }
        self.stats.bytes += data.len() as u64;
        if block_is_wrapped(data) {
            self.lines::<true>(data);
        } else {
            self.lines::<false>(data);
        }
    }

    /// Every line of `data`; when `WRAPPED`, each line is looked at for a JSON line or a
    /// container runtime's prefix first.
    fn lines<const WRAPPED: bool>(&mut self, data: &[u8]) {
        let mut start = 0;
        crate::input::for_each_newline(data, |end| {
            self.line::<WRAPPED>(&data[start..end]);
            start = end + 1;
        });
        if start < data.len() {
            self.line::<WRAPPED>(&data[start..]);
        }
    }

    /// Makes room for `entries` messages in the chunk's correlation table.
    pub fn reserve_queue_entries(&mut self, entries: usize) {
        self.queues.reserve(entries);
    }

    /// Counts a block that holds only the head of one overlong line.
    pub fn reject_oversized(&mut self, head: &[u8]) {
        self.stats.bytes += head.len() as u64;
        self.stats.lines += 1;
        let n = self.stats.lines;
        self.stats.reject("line too long", self.input, n, head);
    }

    /// Ends the chunk: its result for the merger, the aggregate it counted into, and the
    /// per-address record if it kept one.
    pub fn finish(mut self) -> (ChunkResult, Aggregate, Option<Recipients>) {
        // Container lines cut by the runtime whose ends lie beyond this block.
        for (reason, n, parts) in self.container_parts.unfinished() {
            self.stats.reject(reason, self.input, n, &parts);
        }
        // Exim entries whose later parts lie beyond this block: read what they hold.
        if let Some(mut reassembler) = self.exim.take() {
            for entry in reassembler.flush() {
                self.parse(&entry);
            }
        }
        self.aggregate.flush();
        let symbols = self.queues.export(&self.aggregate.interner);
        let result = ChunkResult {
            stats: self.stats,
            queues: self.queues,
            symbols,
        };
        (result, self.aggregate, self.recipients)
    }

    fn line<const WRAPPED: bool>(&mut self, line: &[u8]) {
        self.stats.lines += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return;
        }
        if line.len() > MAX_LINE_BYTES {
            let n = self.stats.lines;
            self.stats.reject("line too long", self.input, n, line);
            return;
        }
        if WRAPPED {
            if json_line::is_json_line(line) {
                self.json_line(line);
                return;
            }
            if let Some(container) = cri::strip(line) {
                self.container_line(container, line);
                return;
            }
        }
        self.syslog_line(line);
    }

    /// A container runtime's line: the container's own line behind the prefix.
    #[cold]
    #[inline(never)]
    fn container_line(&mut self, container: ContainerLine<'_>, line: &[u8]) {
        let n = self.stats.lines;
        let mut parts = std::mem::take(&mut self.container_parts);
        match parts.feed(container, n, MAX_LINE_BYTES) {
            Joined::Line(b"") | Joined::Held => {}
            Joined::Line(text) => self.syslog_line(text),
            Joined::TooLong => self.stats.reject(cri::TOO_LONG, self.input, n, line),
        }
        self.container_parts = parts;
    }

    /// A JSON line (a journal entry, or a log shipper's record): read as the syslog line it
    /// holds. Out of line, so that a syslog line's path stays as short as it was.
    #[cold]
    #[inline(never)]
    fn json_line(&mut self, line: &[u8]) {
        let mut reader = std::mem::take(&mut self.json_line);
        match reader.decode(line) {
            Ok(Some(syslog_line)) => self.syslog_line(syslog_line),
            Ok(None) => {}
            Err(err) => {
                let n = self.stats.lines;
                self.stats.reject(err.as_str(), self.input, n, line);
            }
        }
        self.json_line = reader;
    }

    /// A syslog (or Exim mainlog) line, read from the log or from a JSON line.
    #[inline(always)]
    fn syslog_line(&mut self, line: &[u8]) {
        if let Some(reassembler) = &mut self.exim {
            match reassembler.feed(line) {
                Feed::Whole => {}
                Feed::Held => return,
                Feed::Orphan(reason) => {
                    let n = self.stats.lines;
                    self.stats.reject(reason, self.input, n, line);
                    return;
                }
                Feed::Complete => {
                    let entry = reassembler.take();
                    self.parse(&entry);
                    if let Some(reassembler) = &mut self.exim {
                        reassembler.give_back(entry);
                    }
                    return;
                }
            }
        }
        self.parse(line);
    }

    fn parse(&mut self, line: &[u8]) {
        // Matched by reference: moving the record out would copy it (two hundred bytes) on
        // every record line.
        match &self.format.parse_line(line, &mut self.time) {
            Parsed::Skip => {}
            Parsed::Malformed(reason) => {
                let n = self.stats.lines;
                self.stats.reject(reason, self.input, n, line);
            }
            Parsed::Record(envelope, record) => self.record(envelope, record, line),
        }
    }

    fn record(&mut self, envelope: &Envelope<'_>, record: &Record<'_>, line: &[u8]) {
        let instance = self.queues.instances.id(envelope.host, envelope.instance);
        let Some(key) = QueueKey::new(instance, envelope.queue_id) else {
            let n = self.stats.lines;
            self.stats.reject("bad queue id", self.input, n, line);
            return;
        };
        match record {
            Record::Delivery(delivery) => {
                if delivery.is_content_filter_handoff() {
                    self.stats.content_filter_handoffs += 1;
                    return;
                }
                let host = self.instance_host(instance, envelope.host);
                let (cell, strike) = self.delivery_cell(envelope, host, delivery);
                (self.aggregate).note_time(cell.source, host, envelope.time_us);
                if let Some(recipients) = &mut self.recipients {
                    note_attempt(
                        recipients,
                        delivery.recipient,
                        envelope.time_us,
                        &cell,
                        strike,
                    );
                }
                let recipient = recipient_id(delivery.recipient);
                self.queues
                    .delivery(key, recipient, cell, &mut self.aggregate, &mut self.stats);
            }
            Record::Sender { sender } => {
                let domain = self.aggregate.interner.intern_name(domain_of(sender));
                let arrival = self.format.sender_is_arrival();
                self.queues.sender(key, domain, sender.is_empty(), arrival);
            }
            Record::Expired { sender } => {
                let bounce_message = sender.is_empty();
                let sender_domain = if bounce_message {
                    Sym(0)
                } else {
                    self.aggregate.interner.intern_name(domain_of(sender))
                };
                let cell = CubeKey {
                    hour: envelope.time_us.div_euclid(US_PER_HOUR),
                    source: self.format.source(),
                    mta_host: self.instance_host(instance, envelope.host),
                    sender_domain,
                    recipient_domain: Sym(0),
                    provider: Provider::Other,
                    outcome: Outcome::Expired,
                    reply_code: None,
                    enhanced_code: None,
                    dsn: None,
                    category: Category::Expired,
                    permanence: Permanence::Permanent,
                    stage: None,
                    bounce_message,
                    esp_type: Sym(0),
                    esp_subtype: Sym(0),
                };
                (self.aggregate).note_time(cell.source, cell.mta_host, envelope.time_us);
                self.queues
                    .expired(key, cell, &mut self.aggregate, &mut self.stats);
            }
            Record::Removed => self.queues.removed(key),
            Record::Arrival => self.queues.arrival(key),
            Record::BounceNotice { .. } => self.stats.bounce_notices += 1,
        }
    }

    /// The symbol of `host`, the host of queue instance `instance`: interned once per chunk
    /// and instance. The lines of a log's hosts and instances interleave, so remembering only
    /// the last host would intern again on most records.
    fn instance_host(&mut self, instance: u32, host: &[u8]) -> Sym {
        let interner = &mut self.aggregate.interner;
        remembered(&mut self.instance_hosts, instance as usize, || {
            interner.intern_name(host)
        })
    }

    /// [`Provider::of_domain`] of `domain`, whose symbol is `sym`: looked up once per chunk
    /// and domain. A log's deliveries go to a few thousand domains, again and again.
    fn domain_provider(&mut self, sym: Sym, domain: &[u8]) -> Provider {
        remembered(&mut self.domain_providers, sym.0 as usize, || {
            Provider::of_domain(domain)
        })
    }

    fn host_sym(&mut self, host: &[u8]) -> Sym {
        if !self.have_last_host || !short_eq(&self.last_host, host) {
            self.last_host.clear();
            self.last_host.extend_from_slice(host);
            self.last_host_sym = self.aggregate.interner.intern_name(host);
            self.have_last_host = true;
        }
        self.last_host_sym
    }

    /// The cube cell of a delivery, classified, and the strike it is against its recipient;
    /// sender fields are filled by correlation.
    fn delivery_cell(
        &mut self,
        envelope: &Envelope<'_>,
        host: Sym,
        delivery: &Delivery<'_>,
    ) -> (CubeKey, Option<Strike>) {
        let outcome = delivery.status.outcome();
        let recipient_domain = domain_of(delivery.recipient);
        let recipient_sym = self.aggregate.interner.intern_name(recipient_domain);
        let reason = &delivery.reason;
        let (provider, category, permanence, strike) = if outcome == Outcome::Delivered {
            // As `Provider::detect`, with the domain's half remembered by its symbol.
            let provider = match delivery.relay_host.and_then(Provider::of_mx) {
                Some(provider) => provider,
                None => self.domain_provider(recipient_sym, recipient_domain),
            };
            (provider, Category::Delivered, Permanence::None, None)
        } else {
            let text = self
                .format
                .reply_for_classifier(reason.text, &mut self.folded);
            let class = self.classifier.classify(&ClassifyInput {
                outcome: Some(outcome),
                reply_code: reason.reply_code,
                enhanced_code: reason.enhanced_code,
                dsn: delivery.dsn,
                text,
                stage: reason.stage,
                remote_host: delivery.relay_host,
                recipient_domain: Some(recipient_domain),
            });
            let strike = Strike::of_failure(class.fault, class.action, class.permanence);
            (class.provider, class.category, class.permanence, strike)
        };
        let cell = CubeKey {
            hour: envelope.time_us.div_euclid(US_PER_HOUR),
            source: self.format.source(),
            mta_host: host,
            sender_domain: Sym(0),
            recipient_domain: recipient_sym,
            provider,
            outcome,
            reply_code: reason.reply_code,
            enhanced_code: reason.enhanced_code,
            dsn: delivery.dsn,
            category,
            permanence,
            stage: reason.stage,
            bounce_message: false,
            esp_type: Sym(0),
            esp_subtype: Sym(0),
        };
        (cell, strike)
    }
}

/// The general event path: ESP exports (and any parser that produces whole [`Event`]s with
/// their sender) bypass queue correlation.
impl ChunkProcessor<'_> {
    /// Processes one whole ESP export. `lines` counts its records.
    fn process_records(&mut self, data: &[u8]) {
        self.stats.bytes += data.len() as u64;
        let records = esp::process(self.format, data, self);
        self.stats.lines += records;
    }

    /// Classifies and counts one event that names its own sender.
    ///
    /// Deliveries, complaints and suppressions skip the classifier (they are not failed
    /// attempts); a suppression takes the provider's verdict on its reason. A failure with
    /// reply text is classified from it, unless the provider's verdict says the address is fine
    /// and the text says otherwise; a failure without text is classified from the provider's
    /// verdict.
    pub fn event(&mut self, event: &Event<'_>) {
        let verdict = esp::verdict(event.source, event.esp_type, event.esp_subtype);
        let recipient_domain = event.recipient_domain;
        let (provider, category, permanence, strike) = match event.outcome {
            Outcome::Delivered | Outcome::Complained | Outcome::Suppressed => {
                let provider = Provider::detect(event.remote_host, Some(recipient_domain));
                let category = match event.outcome {
                    Outcome::Suppressed => verdict.map_or(Category::Unclassified, |v| v.category),
                    // A complaint is about a message that was delivered.
                    _ => Category::Delivered,
                };
                let permanence = match event.outcome {
                    Outcome::Suppressed => Permanence::Permanent,
                    _ => Permanence::None,
                };
                let strike = match event.outcome {
                    Outcome::Complained => Some(Strike::Complaint),
                    // The ESP kept the message back because the recipient complained before:
                    // a complaint still, whatever the ESP's list is called.
                    Outcome::Suppressed
                        if esp::complained_before(
                            event.source,
                            event.esp_type,
                            event.esp_subtype,
                        ) =>
                    {
                        Some(Strike::Complaint)
                    }
                    // The ESP kept the message back for what it knows of the address (SES's
                    // list of recent hard bounces, SendGrid's "Bounced Address"): that blames
                    // the address as the bounce did. A drop for the sender's content or policy,
                    // or for a reason not given, blames no one.
                    Outcome::Suppressed => {
                        let (fault, action) = fault_and_action(category, permanence);
                        Strike::of_failure(fault, action, permanence)
                    }
                    _ => None,
                };
                (provider, category, permanence, strike)
            }
            _ => {
                let class = self.classifier.classify(&ClassifyInput::from_event(event));
                let category = match verdict {
                    // Without text a bare code says little; the provider knows more.
                    Some(v) if event.text.is_empty() => v.category,
                    Some(v) if class.category == Category::Unclassified => v.category,
                    Some(v) if v.address_ok && blames_address(class.category) => v.category,
                    _ => class.category,
                };
                // The classifier's verdict, unless the provider's replaced its category.
                let (fault, action) = if category == class.category {
                    (class.fault, class.action)
                } else {
                    fault_and_action(category, class.permanence)
                };
                let strike = Strike::of_failure(fault, action, class.permanence);
                (class.provider, category, class.permanence, strike)
            }
        };
        let sender_domain = match event.sender {
            Some(sender) if !event.is_bounce_message => {
                self.aggregate.interner.intern_name(domain_of(sender))
            }
            _ => Sym(0),
        };
        let cell = CubeKey {
            hour: event.time_us.div_euclid(US_PER_HOUR),
            source: event.source,
            mta_host: self.host_sym(event.mta_host),
            sender_domain,
            recipient_domain: self.aggregate.interner.intern_name(recipient_domain),
            provider,
            outcome: event.outcome,
            reply_code: event.reply_code,
            enhanced_code: event.enhanced_code,
            dsn: event.dsn,
            category,
            permanence,
            stage: event.stage,
            bounce_message: event.is_bounce_message,
            esp_type: self
                .aggregate
                .interner
                .intern(event.esp_type.unwrap_or_default()),
            esp_subtype: self
                .aggregate
                .interner
                .intern(event.esp_subtype.unwrap_or_default()),
        };
        self.stats.count_event(
            event.outcome,
            event.is_bounce_message,
            event.sender.is_some(),
        );
        if let Some(recipients) = &mut self.recipients {
            note_attempt(recipients, event.recipient, event.time_us, &cell, strike);
        }
        (self.aggregate).note_time(cell.source, cell.mta_host, event.time_us);
        self.aggregate.add_cell(cell, 1);
    }
}

/// Whether a block's lines are wrapped, as its first line with anything on it says: JSON
/// lines (a journal export, a shipper's records) or a container runtime's lines. A block of
/// plain syslog or Exim lines is then read without a look for either on every line (a
/// wrapped line among them is read as a plain one: a JSON line is rejected for its
/// timestamp).
fn block_is_wrapped(data: &[u8]) -> bool {
    let head = data.trim_ascii_start();
    let first = &head[..memchr::memchr(b'\n', head).unwrap_or(head.len())];
    json_line::is_json_line(first) || cri::strip(first).is_some()
}

/// `memo[i]`, made by `make` and kept the first time `i` is asked for.
#[inline]
fn remembered<T: Copy>(memo: &mut Vec<Option<T>>, i: usize, make: impl FnOnce() -> T) -> T {
    if let Some(&Some(value)) = memo.get(i) {
        return value;
    }
    let value = make();
    if memo.len() <= i {
        memo.resize(i + 1, None);
    }
    memo[i] = Some(value);
    value
}

/// Records an attempt (or a complaint) in the per-address record: a delivery's time, or the
/// strike it is against its recipient.
fn note_attempt(
    recipients: &mut Recipients,
    address: &[u8],
    time_us: i64,
    cell: &CubeKey,
    strike: Option<Strike>,
) {
    if cell.outcome == Outcome::Delivered {
        recipients.delivered(address, time_us);
    } else if let Some(strike) = strike {
        let detail = Detail {
            category: cell.category,
            reply_code: cell.reply_code,
            enhanced_code: cell.enhanced_code,
            provider: cell.provider,
            source: cell.source,
        };
        recipients.strike(address, time_us, strike, detail);
    }
}

/// Categories that say the recipient address itself is bad.
fn blames_address(category: Category) -> bool {
    matches!(
        category,
        Category::UserUnknown
            | Category::DomainUnknown
            | Category::DomainAcceptsNoMail
            | Category::MailboxDisabled
    )
}

impl EventSink for ChunkProcessor<'_> {
    fn event(&mut self, event: &Event<'_>) {
        ChunkProcessor::event(self, event);
    }

    fn reject(&mut self, reason: &'static str, record: u64, text: &[u8]) {
        self.stats.reject(reason, self.input, record, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `log` read as one Postfix chunk, which must reject none of its lines.
    fn one_postfix_chunk(log: &str) -> (ChunkResult, Aggregate) {
        let classifier = Classifier::new();
        let time = TimeContext::utc("2025-06-10T12:00:00Z".parse().unwrap());
        let mut processor = ChunkProcessor::new(&classifier, Format::Postfix, time, 0);
        processor.process(log.as_bytes());
        let (result, aggregate, _) = processor.finish();
        assert_eq!(result.stats.rejected_lines(), 0);
        (result, aggregate)
    }

    /// What a chunk leaves for the merger: a Postfix message that arrived (cleanup's
    /// `message-id=`) and was removed within the chunk is forgotten, as is one that cleanup
    /// rejected; a reused id that the chunk saw removed first, and a message still queued,
    /// are kept; a delivery between the arrival and the first `from=` has no sender.
    #[test]
    fn postfix_messages_that_arrive_and_leave_in_the_chunk_are_not_exported() {
        let log = "\
Jun 10 06:27:30 mta1 postfix/smtpd[1]: 0233313FFAD: client=a.example[192.0.2.1]
Jun 10 06:27:30 mta1 postfix/cleanup[2]: 0233313FFAD: message-id=<1@s.example>
Jun 10 06:27:30 mta1 postfix/qmgr[3]: 0233313FFAD: from=<n@s.example>, size=100, nrcpt=1 (queue active)
Jun 10 06:27:31 mta1 postfix/smtp[4]: 0233313FFAD: to=<u@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.1.27]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK 1718000000 - gsmtp)
Jun 10 06:27:31 mta1 postfix/qmgr[3]: 0233313FFAD: removed
Jun 10 06:27:32 mta1 postfix/cleanup[2]: 1A2B3C4D5E: message-id=<2@s.example>
Jun 10 06:27:32 mta1 postfix/cleanup[2]: 1A2B3C4D5E: milter-reject: END-OF-MESSAGE from a.example[192.0.2.1]: 5.7.1 Spam message rejected; from=<n@s.example> to=<v@gmail.com> proto=ESMTP helo=<a.example>
Jun 10 06:27:33 mta1 postfix/smtp[4]: 2B3C4D5E6F: to=<w@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.1.27]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK 1718000001 - gsmtp)
Jun 10 06:27:34 mta1 postfix/cleanup[2]: 3C4D5E6F70: message-id=<3@s.example>
Jun 10 06:27:34 mta1 postfix/qmgr[3]: 3C4D5E6F70: from=<n@s.example>, size=100, nrcpt=1 (queue active)
Jun 10 06:27:35 mta1 postfix/smtp[4]: 3C4D5E6F70: to=<x@yahoo.com>, relay=mta5.am0.yahoodns.net[67.195.204.72]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.7.0, status=deferred (host mta5.am0.yahoodns.net[67.195.204.72] said: 421 4.7.0 [TSS04] Messages from 192.0.2.9 temporarily deferred (in reply to MAIL FROM command))
Jun 10 06:27:36 mta1 postfix/qmgr[3]: 4D5E6F7081: removed
Jun 10 06:27:36 mta1 postfix/cleanup[2]: 4D5E6F7081: message-id=<4@s.example>
Jun 10 06:27:36 mta1 postfix/qmgr[3]: 4D5E6F7081: from=<n@s.example>, size=100, nrcpt=1 (queue active)
Jun 10 06:27:37 mta1 postfix/smtp[4]: 4D5E6F7081: to=<y@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.1.27]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK 1718000002 - gsmtp)
Jun 10 06:27:37 mta1 postfix/qmgr[3]: 4D5E6F7081: removed
Jun 10 06:27:38 mta1 postfix/cleanup[2]: 5E6F708192: message-id=<5@s.example>
Jun 10 06:27:39 mta1 postfix/smtp[4]: 5E6F708192: to=<z@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.1.27]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK 1718000003 - gsmtp)
";
        let (result, _) = one_postfix_chunk(log);
        // Kept: 3C4D5E6F70 (still queued) and 4D5E6F7081 (its removal before its arrival
        // ends an earlier message the merger may hold).
        assert_eq!(result.queues.messages(), 2);
        // Counted here: the deliveries of 0233313FFAD, 3C4D5E6F70, 4D5E6F7081 and 5E6F708192;
        // that of 2B3C4D5E6F waits for the merger.
        assert_eq!(result.stats.total_events(), 4);
        assert_eq!(result.stats.events_without_sender, 1);
    }
    /// The provider of a delivered message: the relay's mail network when it is a known one,
    /// else the recipient domain's, which the chunk looks up once per domain (whatever its
    /// case) and must not mix up between domains.
    #[test]
    fn delivered_provider_comes_from_the_relay_or_the_remembered_domain() {
        let sent = |id: &str, to: &str, relay: &str| {
            format!(
                "Jun 10 06:27:30 mta1 postfix/cleanup[2]: {id}: message-id=<{id}@s.example>\n\
                 Jun 10 06:27:31 mta1 postfix/smtp[4]: {id}: to=<{to}>, relay={relay}[192.0.2.7]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK)\n"
            )
        };
        let log = [
            sent("0233313FFAD", "a@gmail.com", "mx.relay.example"),
            sent("1A2B3C4D5E", "b@outlook.com", "mx.relay.example"),
            sent("2B3C4D5E6F", "c@corp.example", "aspmx.l.google.com"),
            sent("3C4D5E6F70", "d@corp.example", "mx.corp.example"),
            sent("4D5E6F7081", "e@GMail.COM", "mx.relay.example"),
            sent("5E6F708192", "f@yahoo.com", "mx.relay.example"),
            sent("6F70819203", "g@outlook.com", "mx.relay.example"),
        ]
        .concat();
        let (_, aggregate) = one_postfix_chunk(&log);
        let mut seen: Vec<(String, &str, i64)> = aggregate
            .rows()
            .unwrap()
            .iter()
            .map(|row| (row.recipient_domain.to_owned(), row.provider, row.count))
            .collect();
        seen.sort();
        let expected = [
            ("corp.example", "google", 1),
            ("corp.example", "other", 1),
            ("gmail.com", "google", 2),
            ("outlook.com", "microsoft", 2),
            ("yahoo.com", "yahoo", 1),
        ];
        let expected: Vec<(String, &str, i64)> = expected
            .iter()
            .map(|&(domain, provider, count)| (domain.to_owned(), provider, count))
            .collect();
        assert_eq!(seen, expected);
    }
}
