//! The hot path's event writer: a flat JSON object written field by field, byte for byte what
//! serde_json writes for the same struct, with its deterministic `event.id` first. Cost events
//! are built tens of thousands at a time; a serde struct per event spent most of a transform in
//! generic serialisation and a second pass to put the id in front (BENCHMARKS.md, transforms).

use xxhash_rust::xxh3::Xxh3;

use super::EVENT_ID_SEED;

/// `{"event.id":"<uuid>"`: the id is filled in by [`FlatEvent::finish`] (bytes 13..49).
const PREFIX: &[u8] = b"{\"event.id\":\"00000000-0000-0000-0000-000000000000\"";
const ID: std::ops::Range<usize> = 13..49;

/// One flat event being written at the end of a buffer (which may hold the events before it, as
/// an NDJSON text does); fields appear in the order they are added.
pub(crate) struct FlatEvent {
    out: Vec<u8>,
    start: usize,
}

impl FlatEvent {
    pub fn new() -> Self {
        Self::after(Vec::with_capacity(512))
    }

    /// Starts an event after what `out` holds: many events written into one buffer cost no
    /// allocation each and no copy to join them.
    pub fn after(mut out: Vec<u8>) -> Self {
        let start = out.len();
        out.extend_from_slice(PREFIX);
        FlatEvent { out, start }
    }

    pub fn text(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        write_string(&mut self.out, value);
        self
    }

    /// Left out when absent, never `null` (as `skip_serializing_if` did).
    pub fn optional_text(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.text(key, value);
        }
        self
    }

    /// Integral values as JSON integers (`1000000`, not `1000000.0`), as the API sent them.
    pub fn number(&mut self, key: &str, value: f64) -> &mut Self {
        self.key(key);
        write_number(&mut self.out, value);
        self
    }

    pub fn optional_number(&mut self, key: &str, value: Option<f64>) -> &mut Self {
        if let Some(value) = value {
            self.number(key, value);
        }
        self
    }

    /// Closes the object and puts its id first: a UUIDv8 of the XXH3-128 hash of the event type,
    /// the record's key (its parts joined by `|`) and the event's canonical text without the id,
    /// the same hash [`super::with_event_id`] takes, so both writers give a fact the same id.
    pub fn finish(self, event_type: &str, key: &[&str]) -> String {
        // Only valid UTF-8 was written: ASCII, JSON strings of `&str`s and serde_json's numbers.
        String::from_utf8(self.finish_into(event_type, key)).unwrap_or_default()
    }

    /// [`FlatEvent::finish`], giving back the whole buffer: the events before this one, then it.
    pub fn finish_into(mut self, event_type: &str, key: &[&str]) -> Vec<u8> {
        self.out.push(b'}');
        let mut hasher = Xxh3::with_seed(EVENT_ID_SEED);
        hasher.update(event_type.as_bytes());
        hasher.update(b"\n");
        for (index, part) in key.iter().enumerate() {
            if index > 0 {
                hasher.update(b"|");
            }
            hasher.update(part.as_bytes());
        }
        hasher.update(b"\n");
        // The text without the id is `{` and what follows the prefix's closing comma.
        hasher.update(b"{");
        hasher.update(&self.out[self.start + PREFIX.len() + 1..]);
        let id = uuid::Builder::from_custom_bytes(hasher.digest128().to_be_bytes()).into_uuid();
        let at = self.start + ID.start..self.start + ID.end;
        id.hyphenated().encode_lower(&mut self.out[at]);
        self.out
    }

    fn key(&mut self, key: &str) {
        self.out.extend_from_slice(b",\"");
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }
}

/// A JSON string: as is when nothing in it needs escaping (the common case), else serde_json's
/// escaping, so the text is always what serde_json writes.
fn write_string(out: &mut Vec<u8>, value: &str) {
    if !needs_escape(value.as_bytes()) {
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, value);
    }
}

fn write_number(out: &mut Vec<u8>, value: f64) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    // Writing a number to a Vec cannot fail; a non-finite one is refused before (`finite`).
    if value.fract() == 0.0 && value.abs() < EXACT {
        let _ = serde_json::to_writer(&mut *out, &(value as i64));
    } else {
        let _ = serde_json::to_writer(&mut *out, &value);
    }
}

/// Whether any byte is a control character, `"` or `\\`: eight bytes at a time (the classic
/// "has a zero / a byte less than n" word tricks, exact for whether any byte matches), since
/// this check ran over every byte of every event.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let any_below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS != 0;
    let any_equal = |word: u64, byte: u8| any_below(word ^ (ONES * u64::from(byte)), 1);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        if any_below(word, 0x20) || any_equal(word, b'"') || any_equal(word, b'\\') {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use super::needs_escape;

    #[test]
    fn needs_escape_finds_every_byte_json_escapes_at_any_position_and_nothing_else() {
        for position in 0..20 {
            for byte in 0..=255u8 {
                let mut text = vec![b'a'; 20];
                text[position] = byte;
                let expected = byte < 0x20 || byte == b'"' || byte == b'\\';
                assert_eq!(needs_escape(&text), expected, "byte {byte:#x} at {position}");
            }
        }
        assert!(!needs_escape("Ümlaut 💸 ünïcode".as_bytes()));
    }
}
